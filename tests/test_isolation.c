/* test_isolation.c - the tenant-isolation suite (issue 12, "Must show").
 *
 * One real server (tests/http_helpers.h: in-process, real store, stories260K
 * and the bert embedding model, so retrieval is hybrid BM25 + dense), three
 * departments (HR, Sales, Engineering) with a member, an approver and an
 * auditor each, API keys for all and browser sessions for members and
 * approvers, a collection per department (HR manage, Sales write,
 * Engineering read) and one shared by HR (write) and Sales (read),
 * documents holding per-run random markers (secret words, numbers, titles),
 * a high-risk use case per department with held approvals, and usage from
 * every member. Every credential then attacks every route with every
 * variation it can name (collections by name, case variants, padding, id,
 * mixed with its own; other departments' document, approval and use-case
 * ids, id forms like "07" and "+7"; uploads, deletions, decisions, GDPR and
 * audit routes) and asserts:
 *   - no response (body or header) holds another department's secret,
 *     number, document title, collection name, user name, use-case slug or
 *     approval text, unless the request itself sent that string;
 *   - another department's object answers exactly like a missing one: the
 *     same status, the same headers (less Date, X-Request-Id and
 *     Content-Length) and the same body once the asked name or id is
 *     replaced by a placeholder;
 *   - nothing changed (every document and approval is still there).
 * Part 2 attacks the routes added since (conversations, the administration
 * API, own keys and password, collections' rights, the register's records
 * and classification, login and logout, the web UI's files, agents and
 * their runs) with root and an anonymous caller added: every user's own
 * conversation (colleagues' and the admin's too) read, renamed, deleted,
 * exported, chatted and asked into, searched for; another department's
 * agent read and run, anyone else's agent run read and continued, agent
 * definitions changed by non-admins; the MCP server's tools/call
 * (knowledge_search for another department's secret finds none of its
 * documents, ask in its collection answers like a missing one) and another
 * user's MCP session (like a missing one, and it lives on); every other
 * user's agent memory listed, changed and deleted (like a missing one);
 * another department's collection
 * deleted and its
 * rights set or removed; other users' keys revoked; every admin change by
 * members, approvers and auditors (their own and their department's quota
 * raised or removed too); and asserts the same three things, plus
 * that no refused request generated anything (the usage), every key still
 * works, and users, departments, collections, rights, keys and quotas are as
 * before. Every request of the attacks is matched against the route table
 * (hh_http_route): a route no attack reaches fails the suite, so a new
 * route needs its attack here. The requests of both parts are counted and
 * must reach 3000.
 * The side channels (prefix cache, ranking, identifiers) are in
 * tests/test_isolation_side.c. */
#include "harness.h"
#include "http_helpers.h"
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

/* ---- the world ------------------------------------------------------------ */

#define N_DEPT    3
#define DOCS_PER  3
#define APS_PER   2
#define MAX_FORB  64
#define MAX_CREDS 16
#define MAX_FAILS 25

typedef struct dept {
    const char *name;   /* department */
    const char *tag;    /* short lower-case tag in its markers */
    hh_right_t  right;  /* its members' right on its collection */
    const char *risk;   /* the register answer that makes its use case high-risk */
    char coll[48], secret[48], number[24], uc[48], ap_text[48];
    char title[DOCS_PER][48];
    char member[40], approver[40], auditor[40];
    int64_t coll_id, uc_id;
    int64_t docs[DOCS_PER];
    int64_t aps[APS_PER];
    char agent[48], agent_prompt[48], run_text[48], run_id[80];   /* its agent and its member's run */
    char mem_text[48];   /* its member's agent memory (a marker) and the fact's id */
    int64_t mem_id;
} dept_t;

typedef struct cred {
    int         dept;
    const char *role;
    const char *user;
    char        key[HH_KEY_LEN + 1];   /* "" for the anonymous caller (no key) */
    int64_t     key_id;
    bool        session;   /* cookie + CSRF token instead of the key */
    char        cookie[HH_SESSION_TOKEN_LEN + 1], csrf[HH_SESSION_TOKEN_LEN + 1];
} cred_t;

/* A user's own conversation: its title and the text of its question hold
 * markers nobody else may see, colleagues and admins included. */
typedef struct conv_mark {
    const char *owner;
    int64_t     id;
    char        title[48], text[48];
} conv_mark_t;

#define N_CONVS  (N_DEPT * 3 + 1)   /* every user's and the admin's */
#define MAX_ROUTES 128

typedef struct world {
    hh_test_srv_t h;
    char          hex[16];   /* this run's random tag */
    dept_t        d[N_DEPT];
    char          shared[48], shared_secret[48], shared_title[2][48];
    int64_t       shared_id, shared_docs[2];
    char          root[HH_KEY_LEN + 1];
    int64_t       root_key_id;
    cred_t        admin, anon;   /* root's key (part 2), no key at all */
    conv_mark_t   conv[N_CONVS];
    int           n_conv;
    bool          track;                /* count the routes the requests reach */
    unsigned char hit[MAX_ROUTES];      /* per route of hh_http_route(): reached by an attack */
    cred_t        c[MAX_CREDS];
    int           n_creds;
    const char   *forb[N_DEPT][MAX_FORB];   /* what department i must never see */
    int           n_forb[N_DEPT];
    long          n_requests, n_pairs, n_scanned;
    int           n_fails;
} world_t;

/* n_chars (at most 32) random lower-case hex digits and a NUL into out. */
static void rand_hex(char *out, size_t n_chars)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    for (size_t i = 0; i < n_chars && i < 2 * sizeof b; i++)
        out[i] = "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[n_chars < 2 * sizeof b ? n_chars : 2 * sizeof b] = '\0';
}

static void fail(world_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(world_t *w, const char *fmt, ...)
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
static bool route_matches(const char *pattern, const char *path)
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
static void track_route(world_t *w, const char *method, const char *path)
{
    if (!w->track)
        return;
    const hh_http_route_info_t *rt;
    for (size_t i = 0; i < MAX_ROUTES && (rt = hh_http_route(i)); i++)
        if (!strcmp(rt->method, method) && route_matches(rt->path, path))
            w->hit[i] = 1;
}

/* One request as c (key, or cookie + CSRF token; c NULL or the anonymous
 * caller: neither) with extra header lines (NULL: none); counted. */
static bool send_hdr(world_t *w, const cred_t *c, const char *method, const char *path, const char *ctype,
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
    track_route(w, method, path);
    if (hh_test_http_req(w->h.port, &q, r) != 0) {
        fail(w, "%s %s: no answer", method, path);
        return false;
    }
    return true;
}

/* One request as c (key, or cookie + CSRF token); counted. */
static bool send_as(world_t *w, const cred_t *c, const char *method, const char *path, const char *ctype,
                    const char *body, size_t body_len, hh_test_resp_t *r)
{
    char hdr[256] = "";
    if (c && c->session)
        snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s", c->cookie, c->csrf);
    hh_test_req_t q = { .method = method, .path = path, .key = c && !c->session && c->key[0] ? c->key : NULL,
                        .ctype = ctype, .body = body, .body_len = body_len, .headers = hdr[0] ? hdr : NULL };
    w->n_requests++;
    track_route(w, method, path);
    if (hh_test_http_req(w->h.port, &q, r) != 0) {
        fail(w, "%s %s: no answer", method, path);
        return false;
    }
    return true;
}

static const char *cred_name(const cred_t *c)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "%s(%s%s)", c->user, c->role, c->session ? ",session" : "");
    return buf;
}

/* The markers of other departments in r (body or headers) that the request
 * (path + body) did not send itself. */
static int scan_as(world_t *w, int dept, const char *who, const char *what, const char *sent_path,
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
                fail(w, "%s %s: the answer (%d) holds '%s': %.300s", who, what, r->status, f, r->body);
        }
    }
    return hits;
}

/* The conversation markers of everyone but user (NULL: everyone) in r,
 * unless the request sent them. */
static int scan_convs(world_t *w, const char *user, const char *who, const char *what, const char *sent_path,
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
                    fail(w, "%s %s: the answer (%d) holds %s's conversation marker '%s': %.300s", who, what,
                         r->status, v->owner, f, r->body);
            }
        }
    }
    return hits;
}

/* Every marker of every department and every conversation (what the
 * anonymous caller and the web UI's files must never hold). */
static void scan_all(world_t *w, const char *who, const char *what, const char *sent_path, const char *sent_body,
                     const hh_test_resp_t *r)
{
    /* HR's list names Sales' and Engineering's markers, Engineering's HR's and the shared ones */
    scan_as(w, 0, who, what, sent_path, sent_body, r, false);
    scan_as(w, 2, who, what, sent_path, sent_body, r, false);
    scan_convs(w, NULL, who, what, sent_path, sent_body, r, false);
    w->n_scanned--;   /* one answer, scanned in two passes */
}

static void scan(world_t *w, const cred_t *c, const char *what, const char *sent_path, const char *sent_body,
                 const hh_test_resp_t *r)
{
    if (!c->key[0] && !c->session) {
        scan_all(w, cred_name(c), what, sent_path, sent_body, r);
        return;
    }
    scan_as(w, c->dept, cred_name(c), what, sent_path, sent_body, r, false);
    scan_convs(w, c->user, cred_name(c), what, sent_path, sent_body, r, false);
}

/* s with every occurrence of tok replaced by "<T>" (a number only where no
 * digit touches it); headers less Date, X-Request-Id and Content-Length
 * first. Caller frees. */
static char *normalize(const hh_test_resp_t *r, const char *tok)
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
static void pair(world_t *w, const cred_t *c, const char *what, const char *method, const char *ctype,
                 const char *path_f, const char *body_f, const char *tok_f, const char *path_m, const char *body_m,
                 const char *tok_m)
{
    hh_test_resp_t rf, rm;
    memset(&rf, 0, sizeof rf);
    memset(&rm, 0, sizeof rm);
    w->n_pairs++;
    bool ok = send_as(w, c, method, path_f, ctype, body_f, 0, &rf) && send_as(w, c, method, path_m, ctype, body_m, 0, &rm);
    if (ok) {
        scan(w, c, what, path_f, body_f, &rf);
        scan(w, c, what, path_m, body_m, &rm);
        char *nf = normalize(&rf, tok_f), *nm = normalize(&rm, tok_m);
        if (!nf || !nm || strcmp(nf, nm) != 0)
            fail(w, "%s %s: another's '%s' and the missing '%s' answer differently:\n      %.400s\n"
                    "      %.400s", cred_name(c), what, tok_f, tok_m, nf ? nf : "?", nm ? nm : "?");
        free(nf);
        free(nm);
    }
    hh_test_resp_free(&rf);
    hh_test_resp_free(&rm);
}

/* A request whose answer is only scanned; returns its status (-1: none). */
static int probe(world_t *w, const cred_t *c, const char *method, const char *path, const char *body)
{
    hh_test_resp_t r;
    memset(&r, 0, sizeof r);
    int st = -1;
    if (send_as(w, c, method, path, NULL, body, 0, &r)) {
        char what[300];
        snprintf(what, sizeof what, "%s %s", method, path);
        scan(w, c, what, path, body, &r);
        st = r.status;
    }
    hh_test_resp_free(&r);
    return st;
}

/* ---- setup ---------------------------------------------------------------- */

static void doc_text(char *out, size_t cap, const char *title, const char *secret, const char *number, int i)
{
    snprintf(out, cap,
             "# %s\n\nThe %s %s lists the code %s for item %d. The quarterly budget review covers travel, "
             "hardware and training; the planning board signs it.\n\n## Details\n\nKeep %s confidential: "
             "number %s, version %d.\n",
             title, title, secret, number, i, secret, number, i + 1);
}

static int upload_as_root(world_t *w, const char *coll, const char *name, const char *text, int64_t *id)
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
static int login(world_t *w, cred_t *c, const char *pw)
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

static void forbid(world_t *w, int dept, const char *s)
{
    if (w->n_forb[dept] < MAX_FORB)
        w->forb[dept][w->n_forb[dept]++] = s;
}

#define PW "isolation password 2026"

/* Builds the world on a fresh server; false (printed why) on failure. */
static bool world_build(world_t *w)
{
    memset(w, 0, sizeof *w);
    rand_hex(w->hex, 8);
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
        rand_hex(num, 8);
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
            doc_text(text, sizeof text, d->title[k], d->secret, d->number, k);
            snprintf(fname, sizeof fname, "%s-%d.md", d->tag, k);
            if (upload_as_root(w, d->coll, fname, text, &d->docs[k]) != 0)
                return false;
        }
    for (int k = 0; k < 2; k++) {
        doc_text(text, sizeof text, w->shared_title[k], w->shared_secret, "4242", k);
        snprintf(fname, sizeof fname, "shared-%d.md", k);
        if (upload_as_root(w, w->shared, fname, text, &w->shared_docs[k]) != 0)
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
            if (!send_as(w, m, "POST", "/v1/chat/completions", NULL, body, 0, &r))
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
        if (!send_as(w, m, "POST", "/v1/chat/completions", NULL, body, 0, &r) || r.status != 200) {
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
        if (login(w, c, PW) != 0) {
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
            forbid(w, x, d->coll);
            forbid(w, x, d->secret);
            forbid(w, x, d->number);
            forbid(w, x, d->uc);
            forbid(w, x, d->ap_text);
            forbid(w, x, d->member);
            forbid(w, x, d->approver);
            forbid(w, x, d->auditor);
            for (int k = 0; k < DOCS_PER; k++)
                forbid(w, x, d->title[k]);
        }
        if (x == 2) {   /* Engineering does not share */
            forbid(w, x, w->shared);
            forbid(w, x, w->shared_secret);
            forbid(w, x, w->shared_title[0]);
            forbid(w, x, w->shared_title[1]);
        }
    }
    return true;
}

/* ---- the attacks ---------------------------------------------------------- */

/* Collection-name variants: what the attacker writes for a name. */
enum { V_EXACT, V_UPPER, V_CAPITAL, V_TRAIL, V_LEAD, V_ID, V_MIX_OWN_FIRST, V_MIX_FOREIGN_FIRST, N_VARIANTS };
static const char *const g_vnames[N_VARIANTS] = { "exact", "upper", "capital", "trailing space", "leading space",
                                                  "id", "own first", "foreign first" };

/* The name as written in variant v (name: the collection's name, id its id). */
static void variant(char *out, size_t cap, const char *name, int64_t id, int v)
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

/* The JSON array of collections for variant v: the written name tok, with
 * the attacker's own collection own before or after it for the mixes. */
static void coll_array(char *out, size_t cap, const char *tok, const char *own, int v)
{
    if (v == V_MIX_OWN_FIRST)
        snprintf(out, cap, "[\"%s\",\"%s\"]", own, tok);
    else if (v == V_MIX_FOREIGN_FIRST)
        snprintf(out, cap, "[\"%s\",\"%s\"]", tok, own);
    else
        snprintf(out, cap, "[\"%s\"]", tok);
}

static bool query_safe(int v)
{
    return v == V_EXACT || v == V_UPPER || v == V_CAPITAL || v == V_ID;
}

/* Every route that names a collection, for the collection fname (id fid)
 * and a missing one of the same shape (mname, mid). */
static void attack_collection(world_t *w, const cred_t *c, const char *fname, int64_t fid, const char *mname,
                              int64_t mid)
{
    const char *own = w->d[c->dept].coll;
    static const char *const modes[3] = { "bm25", "dense", "hybrid" };
    for (int v = 0; v < N_VARIANTS; v++) {
        char tf[96], tm[96], af[256], am[256], bf[1024], bm[1024], what[320];
        variant(tf, sizeof tf, fname, fid, v);
        variant(tm, sizeof tm, mname, mid, v);
        coll_array(af, sizeof af, tf, own, v);
        coll_array(am, sizeof am, tm, own, v);
        for (int m = 0; m < 3; m++) {
            const char *fmt = "{\"question\":\"What does the %s say about the quarterly budget review?\","
                              "\"collections\":%s,\"retrieval\":\"%s\"}";
            snprintf(bf, sizeof bf, fmt, "handbook", af, modes[m]);
            snprintf(bm, sizeof bm, fmt, "handbook", am, modes[m]);
            snprintf(what, sizeof what, "/api/ask %s (%s, %s)", tf, g_vnames[v], modes[m]);
            pair(w, c, what, "POST", NULL, "/api/ask", bf, tf, "/api/ask", bm, tm);
        }
        const char *cfmt = "{\"model\":\"stories260K\",\"max_tokens\":4,\"temperature\":0,\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"Summarize the quarterly budget review.\"}],"
                           "\"hoheit\":{\"collections\":%s}}";
        snprintf(bf, sizeof bf, cfmt, af);
        snprintf(bm, sizeof bm, cfmt, am);
        snprintf(what, sizeof what, "chat hoheit.collections %s (%s)", tf, g_vnames[v]);
        pair(w, c, what, "POST", NULL, "/v1/chat/completions", bf, tf, "/v1/chat/completions", bm, tm);
        if (!query_safe(v))
            continue;
        char pf[200], pm[200];
        snprintf(pf, sizeof pf, "/api/documents?collection=%s", tf);
        snprintf(pm, sizeof pm, "/api/documents?collection=%s", tm);
        snprintf(what, sizeof what, "GET %s (%s)", pf, g_vnames[v]);
        pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
        /* an upload into it: refused before the body, like a missing one */
        static const char *const ufmt =
            "--hhB0undary\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n%s\r\n"
            "--hhB0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"planted.md\"\r\n"
            "Content-Type: text/markdown\r\n\r\n# Planted\n\nThe quarterly budget review moved to evil.example.\r\n"
            "--hhB0undary--\r\n";
        snprintf(bf, sizeof bf, ufmt, tf);
        snprintf(bm, sizeof bm, ufmt, tm);
        snprintf(what, sizeof what, "POST %s (upload, %s)", pf, g_vnames[v]);
        pair(w, c, what, "POST", "multipart/form-data; boundary=hhB0undary", pf, bf, tf, pm, bm, tm);
    }
}

/* DELETE of a document id the caller cannot read, in three spellings,
 * against a missing id in the same spelling. */
static void attack_doc_id(world_t *w, const cred_t *c, int64_t id, int64_t missing)
{
    static const char *const forms[3] = { "%lld", "0%lld", "+%lld" };
    for (int f = 0; f < 3; f++) {
        char tf[32], tm[32], pf[96], pm[96], what[160];
        snprintf(tf, sizeof tf, forms[f], (long long)id);
        snprintf(tm, sizeof tm, forms[f], (long long)missing);
        snprintf(pf, sizeof pf, "/api/documents/%s", tf);
        snprintf(pm, sizeof pm, "/api/documents/%s", tm);
        snprintf(what, sizeof what, "DELETE %s", pf);
        pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        if (f == 0) {
            snprintf(what, sizeof what, "GET %s", pf);
            pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
            /* the stored original (GET /api/documents/{id}/file, read right) */
            snprintf(pf, sizeof pf, "/api/documents/%s/file", tf);
            snprintf(pm, sizeof pm, "/api/documents/%s/file", tm);
            snprintf(what, sizeof what, "GET %s", pf);
            pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
        }
    }
}

/* Another department's approval: read and decide it, against a missing id. */
static void attack_approval(world_t *w, const cred_t *c, int64_t id, int64_t missing)
{
    static const char *const actions[4] = { "", "/approve", "/edit", "/reject" };
    static const char *const bodies[4] = { NULL, "{}", "{\"text\":\"Approved as edited.\"}",
                                           "{\"reason\":\"No basis.\"}" };
    for (int a = 0; a < 4; a++) {
        char pf[96], pm[96], tf[24], tm[24], what[160];
        snprintf(tf, sizeof tf, "%lld", (long long)id);
        snprintf(tm, sizeof tm, "%lld", (long long)missing);
        snprintf(pf, sizeof pf, "/api/approvals/%s%s", tf, actions[a]);
        snprintf(pm, sizeof pm, "/api/approvals/%s%s", tm, actions[a]);
        snprintf(what, sizeof what, "%s %s", a ? "POST" : "GET", pf);
        pair(w, c, what, a ? "POST" : "GET", NULL, pf, bodies[a], tf, pm, bodies[a], tm);
    }
}

/* Another department's use case by slug and id: read, change, delete,
 * generate under it; against a missing slug / id. */
static void attack_usecase(world_t *w, const cred_t *c, const dept_t *y)
{
    char ms[64], tf[64], tm[64], pf[128], pm[128], bf[512], bm[512], what[200];
    snprintf(ms, sizeof ms, "%s-uc-%.8s", y->tag, "00000000");
    for (int by_id = 0; by_id < 2; by_id++) {
        if (by_id) {
            snprintf(tf, sizeof tf, "%lld", (long long)y->uc_id);
            snprintf(tm, sizeof tm, "%lld", (long long)(y->uc_id + 90000));
        } else {
            snprintf(tf, sizeof tf, "%s", y->uc);
            snprintf(tm, sizeof tm, "%s", ms);
        }
        snprintf(pf, sizeof pf, "/api/usecases/%s", tf);
        snprintf(pm, sizeof pm, "/api/usecases/%s", tm);
        snprintf(what, sizeof what, "GET %s", pf);
        pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
        snprintf(what, sizeof what, "PUT %s", pf);
        pair(w, c, what, "PUT", NULL, pf, "{\"purpose\":\"taken over\"}", tf, pm, "{\"purpose\":\"taken over\"}", tm);
        snprintf(what, sizeof what, "DELETE %s", pf);
        pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
    }
    const char *cfmt = "{\"model\":\"stories260K\",\"max_tokens\":3,\"temperature\":0,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"Once upon\"}],\"hoheit\":{\"use_case\":\"%s\"}}";
    snprintf(bf, sizeof bf, cfmt, y->uc);
    snprintf(bm, sizeof bm, cfmt, ms);
    snprintf(what, sizeof what, "chat hoheit.use_case %s", y->uc);
    pair(w, c, what, "POST", NULL, "/v1/chat/completions", bf, y->uc, "/v1/chat/completions", bm, ms);
    const char *afmt = "{\"question\":\"quarterly budget review\",\"use_case\":\"%s\"}";
    snprintf(bf, sizeof bf, afmt, y->uc);
    snprintf(bm, sizeof bm, afmt, ms);
    snprintf(what, sizeof what, "/api/ask use_case %s", y->uc);
    pair(w, c, what, "POST", NULL, "/api/ask", bf, y->uc, "/api/ask", bm, ms);
}

/* GDPR export / erase naming another department's user (admins only). */
static void attack_gdpr(world_t *w, const cred_t *c, const char *user)
{
    char missing[64], bf[256], bm[256], what[160];
    snprintf(missing, sizeof missing, "%.*szz", (int)strlen(user) - 2, user);
    snprintf(bf, sizeof bf, "{\"subjects\":[\"%s\"]}", user);
    snprintf(bm, sizeof bm, "{\"subjects\":[\"%s\"]}", missing);
    snprintf(what, sizeof what, "gdpr export %s", user);
    pair(w, c, what, "POST", NULL, "/api/gdpr/export", bf, user, "/api/gdpr/export", bm, missing);
    snprintf(bf, sizeof bf, "{\"subjects\":[\"%s\"],\"confirm\":true}", user);
    snprintf(bm, sizeof bm, "{\"subjects\":[\"%s\"],\"confirm\":true}", missing);
    snprintf(what, sizeof what, "gdpr erase %s", user);
    pair(w, c, what, "POST", NULL, "/api/gdpr/erase", bf, user, "/api/gdpr/erase", bm, missing);
}

/* Routes that name nothing: the answers are scanned. Auditors review the
 * approvals, the usage (also the per-department series of /metrics) and
 * the register of every department by their role (docs/SECURITY.md), so
 * those routes are scanned only for the others. */
static void attack_plain(world_t *w, const cred_t *c)
{
    bool auditor = !strcmp(c->role, "auditor");
    static const char *const gets[] = { "/api/documents", "/api/documents?collection=", "/api/me", "/v1/models",
                                        "/api/retention/sweep" };
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++)
        probe(w, c, "GET", gets[i], NULL);
    static const char *const compliance[] = { "/api/approvals", "/api/approvals?status=all", "/api/usage",
                                              "/api/usage?by=user", "/api/usage?by=use-case",
                                              "/api/usage?by=department", "/api/usecases", "/metrics" };
    for (size_t i = 0; !auditor && i < sizeof compliance / sizeof compliance[0]; i++)
        probe(w, c, "GET", compliance[i], NULL);
    if (!auditor) {
        if (probe(w, c, "GET", "/api/audit/export", NULL) != 403 || probe(w, c, "GET", "/api/audit/verify", NULL) != 403)
            fail(w, "%s: the audit routes did not answer 403", cred_name(c));
    }
    if (probe(w, c, "POST", "/api/retention/sweep", NULL) != 403)
        fail(w, "%s: the retention sweep did not answer 403", cred_name(c));
    /* every readable collection, questions full of other departments'
     * words (their secrets are sent, so only the rest is scanned) */
    char body[512];
    for (int y = 0; y < N_DEPT; y++) {
        if (y == c->dept)
            continue;
        snprintf(body, sizeof body, "{\"question\":\"%s handbook code quarterly budget review\"}", w->d[y].secret);
        probe(w, c, "POST", "/api/ask", body);
        snprintf(body, sizeof body, "{\"question\":\"%s\",\"retrieval\":\"bm25\"}", w->d[y].number);
        probe(w, c, "POST", "/api/ask", body);
    }
    probe(w, c, "POST", "/api/ask", "{\"question\":\"What is the secret code of the handbook?\"}");
    probe(w, c, "POST", "/v1/chat/completions",
          "{\"model\":\"stories260K\",\"max_tokens\":4,\"temperature\":0,\"messages\":[{\"role\":\"user\","
          "\"content\":\"What is the secret code?\"}],\"hoheit\":{\"collections\":[]}}");
}

/* Everything c can try against department y (and the shared collection). */
static void attack_all(world_t *w, const cred_t *c)
{
    bool auditor = !strcmp(c->role, "auditor");
    int64_t missing_doc = 700000, missing_ap = 800000;
    for (int y = 0; y < N_DEPT; y++) {
        if (y == c->dept)
            continue;
        const dept_t *d = &w->d[y];
        char mname[64];
        snprintf(mname, sizeof mname, "%s-docs-%.8s", d->tag, "0badf00d");
        attack_collection(w, c, d->coll, d->coll_id, mname, d->coll_id + 5000);
        for (int k = 0; k < DOCS_PER; k++)
            attack_doc_id(w, c, d->docs[k], missing_doc++);
        if (!auditor) {   /* auditors read every approval and use case by their role */
            for (int a = 0; a < APS_PER; a++)
                attack_approval(w, c, d->aps[a], missing_ap++);
            attack_usecase(w, c, d);
        }
        attack_gdpr(w, c, d->member);
    }
    if (c->dept == 2) {   /* Engineering: the collection HR and Sales share */
        char mname[64];
        snprintf(mname, sizeof mname, "shared-docs-%.8s", "0badf00d");
        attack_collection(w, c, w->shared, w->shared_id, mname, w->shared_id + 5000);
        for (int k = 0; k < 2; k++)
            attack_doc_id(w, c, w->shared_docs[k], missing_doc++);
    }
    attack_plain(w, c);
}

/* What an entitled user sees: the markers are real and the scan finds
 * them (the suite's assertions can fail). */
static void positive_controls(world_t *w)
{
    const cred_t *hr = &w->c[0], *hr_ap = &w->c[1], *sales = &w->c[3];
    hh_test_resp_t r;
    char body[256];
    snprintf(body, sizeof body, "{\"question\":\"%s\",\"collections\":[\"%s\"],\"retrieval\":\"bm25\"}",
             w->d[0].title[0], w->d[0].coll);
    if (!send_as(w, hr, "POST", "/api/ask", NULL, body, 0, &r) || r.status != 200 ||
        !strstr(r.body, w->d[0].secret))
        fail(w, "control: HR's own ask does not show its secret: %.300s", r.body);
    hh_test_resp_free(&r);
    if (!send_as(w, sales, "GET", "/api/documents", NULL, NULL, 0, &r) || !strstr(r.body, w->shared_title[0]) ||
        !strstr(r.body, w->d[1].title[2]))
        fail(w, "control: Sales does not list its own and the shared documents: %.300s", r.body);
    hh_test_resp_free(&r);
    if (!send_as(w, hr_ap, "GET", "/api/approvals", NULL, NULL, 0, &r) || !strstr(r.body, w->d[0].ap_text))
        fail(w, "control: the HR approver does not see HR's approval: %.300s", r.body);
    hh_test_resp_free(&r);
    /* HR's list shown to Engineering would be a leak: the scan finds it */
    if (!send_as(w, hr, "GET", "/api/documents", NULL, NULL, 0, &r) ||
        scan_as(w, 2, "control", "control", "", NULL, &r, true) < 1 + DOCS_PER)
        fail(w, "control: the scan does not flag HR's documents shown to Engineering");
    hh_test_resp_free(&r);
}

/* Everything is still there. */
static void nothing_changed(world_t *w)
{
    hh_test_resp_t r;
    if (hh_test_http(w->h.port, "GET", "/api/documents", w->root, NULL, &r) == 0) {
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data"));
        if (n != N_DEPT * DOCS_PER + 2)
            fail(w, "the documents changed: %d instead of %d", n, N_DEPT * DOCS_PER + 2);
    }
    hh_test_resp_free(&r);
    if (hh_test_http(w->h.port, "GET", "/api/approvals", w->root, NULL, &r) == 0) {
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data"));
        if (n != N_DEPT * APS_PER)
            fail(w, "pending approvals changed: %d instead of %d", n, N_DEPT * APS_PER);
    }
    hh_test_resp_free(&r);
    w->n_requests += 2;
}

/* ---- part 2: the routes added since (conversations, administration, web UI) */

/* Every user's own conversation (the nine department users and root): a
 * title and a question holding markers, one recorded turn. */
static bool conv_build(world_t *w)
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
        if (!send_as(w, c, "POST", "/api/conversations", NULL, body, 0, &r))
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
        if (!send_as(w, c, "POST", "/v1/chat/completions", NULL, body, 0, &r) || r.status != 200) {
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
static int expect(world_t *w, const cred_t *c, const char *method, const char *path, const char *body, int want)
{
    int st = probe(w, c, method, path, body);
    if (want && st != want)
        fail(w, "%s %s %s: %d, expected %d", cred_name(c), method, path, st, want);
    return st;
}

/* An id that is no conversation's: v's id moved, checked against all. */
static int64_t missing_conv_id(const world_t *w, int64_t id)
{
    for (int64_t m = (id + 7919) % INT64_C(9999999999) + 1;; m = m % INT64_C(9999999999) + 1) {
        bool taken = false;
        for (int k = 0; k < w->n_conv; k++)
            taken |= w->conv[k].id == m;
        if (!taken)
            return m;
    }
}

/* The first conversation that is not c's. */
static const conv_mark_t *foreign_conv(const world_t *w, const cred_t *c)
{
    for (int k = 0; k < w->n_conv; k++)
        if (strcmp(w->conv[k].owner, c->user) != 0)
            return &w->conv[k];
    return &w->conv[0];
}

/* Another user's conversation (colleagues and admins too): read, rename,
 * delete, export, and chat or ask into it; against a missing id. The
 * search finds none of their text; the list holds only c's own. */
static void attack_conversations(world_t *w, const cred_t *c)
{
    for (int k = 0; k < w->n_conv; k++) {
        const conv_mark_t *v = &w->conv[k];
        if (!strcmp(v->owner, c->user))
            continue;
        int64_t mid = missing_conv_id(w, v->id);
        char tf[32], tm[32], pf[128], pm[128], bf[512], bm[512], what[200];
        static const char *const forms[3] = { "%lld", "0%lld", "+%lld" };
        for (int f = 0; f < 3; f++) {
            snprintf(tf, sizeof tf, forms[f], (long long)v->id);
            snprintf(tm, sizeof tm, forms[f], (long long)mid);
            snprintf(pf, sizeof pf, "/api/conversations/%s", tf);
            snprintf(pm, sizeof pm, "/api/conversations/%s", tm);
            snprintf(what, sizeof what, "GET %s (%s's)", pf, v->owner);
            pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
        }
        snprintf(tf, sizeof tf, "%lld", (long long)v->id);
        snprintf(tm, sizeof tm, "%lld", (long long)mid);
        snprintf(pf, sizeof pf, "/api/conversations/%s", tf);
        snprintf(pm, sizeof pm, "/api/conversations/%s", tm);
        snprintf(what, sizeof what, "PATCH %s (%s's)", pf, v->owner);
        pair(w, c, what, "PATCH", NULL, pf, "{\"title\":\"taken over\"}", tf, pm, "{\"title\":\"taken over\"}", tm);
        snprintf(what, sizeof what, "DELETE %s (%s's)", pf, v->owner);
        pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        static const char *const exports[3] = { "/export", "/export?format=md", "/export?format=json" };
        for (int e = 0; e < 3; e++) {
            char xf[160], xm[160];
            snprintf(xf, sizeof xf, "%s%s", pf, exports[e]);
            snprintf(xm, sizeof xm, "%s%s", pm, exports[e]);
            snprintf(what, sizeof what, "GET %s (%s's)", xf, v->owner);
            pair(w, c, what, "GET", NULL, xf, NULL, tf, xm, NULL, tm);
        }
        /* generation into it: refused before anything runs (the usage
         * and the approvals stay as they were, checked by the caller) */
        const char *cfmt = "{\"model\":\"stories260K\",\"max_tokens\":3,\"temperature\":0,\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"Continue.\"}],\"hoheit\":{\"conversation_id\":%s%s}}";
        char uc[96] = "";
        if (!strcmp(c->role, "member") && c->dept >= 0)   /* under its own held use case: no approval is queued */
            snprintf(uc, sizeof uc, ",\"use_case\":\"%s\"", w->d[c->dept].uc);
        snprintf(bf, sizeof bf, cfmt, tf, uc);
        snprintf(bm, sizeof bm, cfmt, tm, uc);
        snprintf(what, sizeof what, "chat into %s's conversation %s", v->owner, tf);
        pair(w, c, what, "POST", NULL, "/v1/chat/completions", bf, tf, "/v1/chat/completions", bm, tm);
        const char *afmt = "{\"question\":\"What did I ask before?\",\"conversation_id\":%s}";
        snprintf(bf, sizeof bf, afmt, tf);
        snprintf(bm, sizeof bm, afmt, tm);
        snprintf(what, sizeof what, "ask into %s's conversation %s", v->owner, tf);
        pair(w, c, what, "POST", NULL, "/api/ask", bf, tf, "/api/ask", bm, tm);
        /* the search: their title and text against missing markers of the same shape */
        const char *marks[2] = { v->title, v->text };
        for (int m = 0; m < 2; m++) {
            char mk[64];
            snprintf(mk, sizeof mk, "%.*s0badf00d", (int)(strlen(marks[m]) - 8), marks[m]);
            snprintf(pf, sizeof pf, "/api/conversations?q=%s", marks[m]);
            snprintf(pm, sizeof pm, "/api/conversations?q=%s", mk);
            snprintf(what, sizeof what, "GET %s (%s's)", pf, v->owner);
            pair(w, c, what, "GET", NULL, pf, NULL, marks[m], pm, NULL, mk);
        }
    }
    /* a new conversation naming someone else as its owner is c's own
     * (the unknown fields are ignored) and goes again */
    const conv_mark_t *v = foreign_conv(w, c);
    char body[256];
    snprintf(body, sizeof body, "{\"title\":\"planted\",\"user\":\"%s\",\"user_id\":1,\"owner\":\"%s\"}", v->owner,
             v->owner);
    hh_test_resp_t r;
    if (send_as(w, c, "POST", "/api/conversations", NULL, body, 0, &r)) {
        scan(w, c, "POST /api/conversations", "/api/conversations", body, &r);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
        if (r.status != 201 || !cJSON_IsNumber(id))
            fail(w, "%s POST /api/conversations: %d %.200s", cred_name(c), r.status, r.body);
        else {
            char path[96];
            snprintf(path, sizeof path, "/api/conversations/%lld", (long long)id->valuedouble);
            expect(w, c, "DELETE", path, NULL, 200);
        }
    }
    hh_test_resp_free(&r);
    /* a search every conversation's text matches, and the plain list:
     * only c's own */
    int own = 0;
    for (int k = 0; k < w->n_conv; k++)
        own += !strcmp(w->conv[k].owner, c->user);
    static const char *const lists[3] = { "/api/conversations?q=ctext", "/api/conversations",
                                          "/api/conversations?limit=100&offset=0" };
    for (int i = 0; i < 3; i++) {
        if (!send_as(w, c, "GET", lists[i], NULL, NULL, 0, &r))
            continue;
        char what[160];
        snprintf(what, sizeof what, "GET %s", lists[i]);
        scan(w, c, what, lists[i], NULL, &r);
        const cJSON *it, *total = cJSON_GetObjectItemCaseSensitive(r.j, "total");
        int n = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.j, "data")) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            bool mine = false;
            for (int k = 0; k < w->n_conv; k++)
                mine |= cJSON_IsNumber(id) && (int64_t)id->valuedouble == w->conv[k].id &&
                        !strcmp(w->conv[k].owner, c->user);
            n++;
            if (!mine)
                fail(w, "%s %s: lists a conversation that is not theirs: %.200s", cred_name(c), what, r.body);
        }
        if (r.status != 200 || n != own || !cJSON_IsNumber(total) || total->valueint != own)
            fail(w, "%s %s: %d, %d conversations (total %s) instead of their own %d: %.200s", cred_name(c), what,
                 r.status, n, cJSON_IsNumber(total) ? "a number" : "missing", own, r.body);
        hh_test_resp_free(&r);
    }
}

/* A name as an attacker may spell it in a path segment. */
enum { P_EXACT, P_UPPER, P_CAPITAL, P_ID, N_PATH_VARIANTS };

/* Another department's collection: delete it, set or remove rights on it
 * (for the attacker's department and for its own); against a missing
 * one. A collection the caller reads but does not manage answers 403. */
static void attack_collections_admin(world_t *w, const cred_t *c)
{
    if (c->dept < 0)
        return;
    for (int y = 0; y <= N_DEPT; y++) {
        bool shared = y == N_DEPT;
        if (y == c->dept || (shared && c->dept != 2))
            continue;
        const char *name = shared ? w->shared : w->d[y].coll;
        int64_t id = shared ? w->shared_id : w->d[y].coll_id;
        char mname[64];
        snprintf(mname, sizeof mname, "%.*s0badf00d", (int)(strlen(name) - 8), name);
        const char *ydept = shared ? "Sales" : w->d[y].name, *own = w->d[c->dept].name;
        for (int v = 0; v < N_PATH_VARIANTS; v++) {
            char tf[96], tm[96], pf[256], pm[256], what[320];
            variant(tf, sizeof tf, name, id, v == P_ID ? V_ID : v == P_UPPER ? V_UPPER : v == P_CAPITAL ? V_CAPITAL : V_EXACT);
            variant(tm, sizeof tm, mname, id + 5000, v == P_ID ? V_ID : v == P_UPPER ? V_UPPER : v == P_CAPITAL ? V_CAPITAL : V_EXACT);
            snprintf(pf, sizeof pf, "/api/collections/%s", tf);
            snprintf(pm, sizeof pm, "/api/collections/%s", tm);
            snprintf(what, sizeof what, "DELETE %s", pf);
            pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
            const char *depts[2] = { own, ydept };
            for (int d = 0; d < 2; d++) {
                snprintf(pf, sizeof pf, "/api/collections/%s/rights/%s", tf, depts[d]);
                snprintf(pm, sizeof pm, "/api/collections/%s/rights/%s", tm, depts[d]);
                snprintf(what, sizeof what, "PUT %s", pf);
                pair(w, c, what, "PUT", NULL, pf, "{\"right\":\"manage\"}", tf, pm, "{\"right\":\"manage\"}", tm);
                snprintf(what, sizeof what, "DELETE %s", pf);
                pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
            }
        }
    }
    /* HR (write) and Sales (read) on the collection they share: readable,
     * so 403, and no right of theirs manages it */
    if (c->dept != 2) {
        char path[160];
        snprintf(path, sizeof path, "/api/collections/%s", w->shared);
        expect(w, c, "DELETE", path, NULL, 403);
        snprintf(path, sizeof path, "/api/collections/%s/rights/%s", w->shared, w->d[c->dept].name);
        expect(w, c, "PUT", path, "{\"right\":\"manage\"}", 403);
        snprintf(path, sizeof path, "/api/collections/%s/rights/Sales", w->shared);
        expect(w, c, "DELETE", path, NULL, 403);
    }
    expect(w, c, "GET", "/api/collections", NULL, 200);
    expect(w, c, "POST", "/api/collections", "{\"name\":\"taken-over\",\"departments\":{\"HR\":\"read\"}}", 403);
}

/* Other users' API keys: revoke them through /api/me/keys (404 like a
 * missing id) and /api/admin/keys (403); the own list holds only c's. */
static void attack_keys(world_t *w, const cred_t *c)
{
    for (int k = -1; k < N_DEPT * 3; k++) {
        const cred_t *v = k < 0 ? &w->admin : &w->c[k];
        if (!strcmp(v->user, c->user))
            continue;
        char tf[24], tm[24], pf[64], pm[64], what[160];
        snprintf(tf, sizeof tf, "%lld", (long long)v->key_id);
        snprintf(tm, sizeof tm, "%lld", (long long)(v->key_id + 900000));
        snprintf(pf, sizeof pf, "/api/me/keys/%s", tf);
        snprintf(pm, sizeof pm, "/api/me/keys/%s", tm);
        snprintf(what, sizeof what, "DELETE %s (%s's key)", pf, v->user);
        pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        if (strcmp(c->role, "admin") != 0) {
            snprintf(pf, sizeof pf, "/api/admin/keys/%s", tf);
            snprintf(pm, sizeof pm, "/api/admin/keys/%s", tm);
            snprintf(what, sizeof what, "DELETE %s (%s's key)", pf, v->user);
            pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        }
    }
    hh_test_resp_t r;
    if (send_as(w, c, "GET", "/api/me/keys", NULL, NULL, 0, &r)) {
        scan(w, c, "GET /api/me/keys", "/api/me/keys", NULL, &r);
        const cJSON *it;
        int n = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.j, "data")) {
            n++;
            if (strcmp(hh_test_json_str(it, "user"), c->user) != 0)
                fail(w, "%s GET /api/me/keys: lists %s's key", cred_name(c), hh_test_json_str(it, "user"));
        }
        if (r.status != 200 || n < 1)
            fail(w, "%s GET /api/me/keys: %d with %d keys", cred_name(c), r.status, n);
    }
    hh_test_resp_free(&r);
    if (!c->session) {   /* a key mints no keys */
        expect(w, c, "POST", "/api/me/keys", NULL, 403);
        return;
    }
    /* a session makes its own key; another department's user cannot
     * revoke it (404 like a missing id), its owner can */
    if (!send_as(w, c, "POST", "/api/me/keys", NULL, NULL, 0, &r))
        return;
    scan(w, c, "POST /api/me/keys", "/api/me/keys", NULL, &r);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
    char key[HH_KEY_LEN + 1];
    snprintf(key, sizeof key, "%s", hh_test_json_str(r.j, "key"));
    bool made = r.status == 201 && cJSON_IsNumber(id) && !strcmp(hh_test_json_str(r.j, "user"), c->user);
    int64_t kid = made ? (int64_t)id->valuedouble : 0;
    if (!made)
        fail(w, "%s POST /api/me/keys: %d %.200s", cred_name(c), r.status, r.body);
    hh_test_resp_free(&r);
    if (!made)
        return;
    const cred_t *other = &w->c[((c->dept + 1) % N_DEPT) * 3];
    char tf[24], tm[24], pf[64], pm[64];
    snprintf(tf, sizeof tf, "%lld", (long long)kid);
    snprintf(tm, sizeof tm, "%lld", (long long)(kid + 900000));
    snprintf(pf, sizeof pf, "/api/me/keys/%s", tf);
    snprintf(pm, sizeof pm, "/api/me/keys/%s", tm);
    pair(w, other, "DELETE another's fresh key", "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
    cred_t fresh = *c;
    fresh.session = false;
    snprintf(fresh.key, sizeof fresh.key, "%s", key);
    if (expect(w, &fresh, "GET", "/api/me", NULL, 200) != 200)
        fail(w, "%s: the fresh key stopped working after another user's revocation attempt", cred_name(c));
    expect(w, c, "DELETE", pf, NULL, 200);
}

/* The administration routes as a member, approver or auditor: every
 * change (and for members and approvers every read) is 403, naming another
 * department's user or department answers like a missing one. */
static void attack_admin(world_t *w, const cred_t *c)
{
    if (c->dept < 0)
        return;
    bool auditor = !strcmp(c->role, "auditor");
    if (!auditor) {
        static const char *const reads[] = { "/api/admin/users", "/api/admin/departments", "/api/admin/models",
                                             "/api/admin/quotas", "/api/usecases?records=md",
                                             "/api/usecases?records=html" };
        for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
            expect(w, c, "GET", reads[i], NULL, 403);
    }
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"evil%s\",\"role\":\"admin\",\"departments\":[\"%s\"]}", w->hex,
             w->d[c->dept].name);
    expect(w, c, "POST", "/api/admin/users", body, 403);
    expect(w, c, "POST", "/api/admin/departments", "{\"name\":\"Shadow\"}", 403);
    expect(w, c, "POST", "/api/usecases?classify=true", "{\"answers\":{\"h_employment\":true}}", 403);
    snprintf(body, sizeof body, "{\"slug\":\"evil-%s\",\"name\":\"evil\",\"purpose\":\"x\",\"models\":[\"stories260K\"]}",
             w->hex);
    expect(w, c, "POST", "/api/usecases", body, 403);
    /* quotas: raising or removing one's own or one's department's limit */
    static const char *const unlimited = "{\"tokens_per_day\":1000000000000,\"requests_per_minute\":100000}";
    char qp[160];
    snprintf(qp, sizeof qp, "/api/admin/quotas/users/%s", c->user);
    expect(w, c, "PUT", qp, unlimited, 403);
    expect(w, c, "DELETE", qp, NULL, 403);
    snprintf(qp, sizeof qp, "/api/admin/quotas/departments/%s", w->d[c->dept].name);
    expect(w, c, "PUT", qp, unlimited, 403);
    expect(w, c, "DELETE", qp, NULL, 403);
    for (int y = 0; y < N_DEPT; y++) {
        if (y == c->dept)
            continue;
        const dept_t *d = &w->d[y];
        char missing[64], pf[160], pm[160], what[200];
        snprintf(missing, sizeof missing, "%.*szz", (int)strlen(d->member) - 2, d->member);
        static const struct {
            const char *method, *suffix, *body;
            bool read;
        } named[] = {
            { "GET", "/keys", NULL, true },
            { "POST", "/keys", "{}", false },
            { "PATCH", "", "{\"role\":\"admin\"}", false },
            { "PATCH", "", "{\"disabled\":true}", false },
            { "DELETE", "", NULL, false },
            { "POST", "/password", "{\"password\":\"taken over 2026\"}", false },
        };
        for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
            if (named[i].read && auditor)   /* auditors review every user's keys by their role */
                continue;
            snprintf(pf, sizeof pf, "/api/admin/users/%s%s", d->member, named[i].suffix);
            snprintf(pm, sizeof pm, "/api/admin/users/%s%s", missing, named[i].suffix);
            snprintf(what, sizeof what, "%s %s", named[i].method, pf);
            pair(w, c, what, named[i].method, NULL, pf, named[i].body, d->member, pm, named[i].body, missing);
        }
        char dm[32];
        snprintf(dm, sizeof dm, "%.*szz", (int)strlen(d->name) - 2, d->name);
        snprintf(pf, sizeof pf, "/api/admin/departments/%s", d->name);
        snprintf(pm, sizeof pm, "/api/admin/departments/%s", dm);
        snprintf(what, sizeof what, "PATCH %s", pf);
        pair(w, c, what, "PATCH", NULL, pf, "{\"name\":\"Shadow\"}", d->name, pm, "{\"name\":\"Shadow\"}", dm);
        snprintf(what, sizeof what, "DELETE %s", pf);
        pair(w, c, what, "DELETE", NULL, pf, NULL, d->name, pm, NULL, dm);
        /* another department's and its member's quota, like a missing one's */
        static const char *const tight = "{\"tokens_per_day\":1}";
        const char *subj[2][2] = { { "users", d->member }, { "departments", d->name } };
        const char *absent[2] = { missing, dm };
        for (int k = 0; k < 2; k++) {
            snprintf(pf, sizeof pf, "/api/admin/quotas/%s/%s", subj[k][0], subj[k][1]);
            snprintf(pm, sizeof pm, "/api/admin/quotas/%s/%s", subj[k][0], absent[k]);
            snprintf(what, sizeof what, "PUT %s", pf);
            pair(w, c, what, "PUT", NULL, pf, tight, subj[k][1], pm, tight, absent[k]);
            snprintf(what, sizeof what, "DELETE %s", pf);
            pair(w, c, what, "DELETE", NULL, pf, NULL, subj[k][1], pm, NULL, absent[k]);
        }
        if (!auditor) {   /* another department's use case's system card */
            char ms[64];
            snprintf(ms, sizeof ms, "%s-uc-%.8s", d->tag, "00000000");
            for (int h = 0; h < 2; h++) {
                snprintf(pf, sizeof pf, "/api/usecases/%s?card=%s", d->uc, h ? "html" : "md");
                snprintf(pm, sizeof pm, "/api/usecases/%s?card=%s", ms, h ? "html" : "md");
                snprintf(what, sizeof what, "GET %s", pf);
                pair(w, c, what, "GET", NULL, pf, NULL, d->uc, pm, NULL, ms);
            }
        }
    }
}

/* The rest: no object of another's to name, so the answers are scanned
 * (and names of others' objects tried where a path takes one). */
static void attack_misc(world_t *w, const cred_t *c)
{
    const cred_t *v = &w->c[((c->dept < 0 ? 0 : c->dept) + 1) % N_DEPT * 3];   /* another department's member */
    const dept_t *y = &w->d[v->dept];
    char mname[64], pf[160], pm[160], body[512];
    snprintf(mname, sizeof mname, "%.*s0badf00d", (int)(strlen(y->coll) - 8), y->coll);
    expect(w, c, "GET", "/health", NULL, 200);
    snprintf(pf, sizeof pf, "/v1/models/%s", y->coll);
    snprintf(pm, sizeof pm, "/v1/models/%s", mname);
    pair(w, c, "GET /v1/models/{collection}", "GET", NULL, pf, NULL, y->coll, pm, NULL, mname);
    snprintf(pf, sizeof pf, "/assets/%s.js", y->coll);
    snprintf(pm, sizeof pm, "/assets/%s.js", mname);
    pair(w, c, "GET /assets/{collection}.js", "GET", NULL, pf, NULL, y->coll, pm, NULL, mname);
    if (c->dept < 0)
        return;
    expect(w, c, "GET", "/v1/models/stories260K", NULL, 200);
    /* the own password: a field naming someone else is refused */
    snprintf(body, sizeof body, "{\"current_password\":\"" PW "\",\"new_password\":\"taken over 2026\",\"user\":\"%s\"}",
             v->user);
    expect(w, c, "POST", "/api/me/password", body, 400);
    /* logout: a key with another user's session cookie ends nothing; a
     * session with another's cookie and its own CSRF token is refused */
    const cred_t *vs = NULL;
    for (int k = N_DEPT * 3; k < w->n_creds && !vs; k++)
        if (w->c[k].session && strcmp(w->c[k].user, c->user) != 0 && w->c[k].dept != c->dept)
            vs = &w->c[k];
    if (vs) {
        char hdr[256];
        hh_test_resp_t r;
        memset(&r, 0, sizeof r);
        if (!c->session) {
            snprintf(hdr, sizeof hdr, "Cookie: hoheit_session=%s\r\nX-CSRF-Token: %s", vs->cookie, vs->csrf);
            if (send_hdr(w, c, "POST", "/api/logout", NULL, NULL, hdr, &r) && r.status != 400)
                fail(w, "%s: a logout with a key and %s's cookie answered %d", cred_name(c), vs->user, r.status);
        } else {
            cred_t mixed = *vs;
            snprintf(mixed.csrf, sizeof mixed.csrf, "%s", c->csrf);
            if (send_hdr(w, &mixed, "POST", "/api/logout", NULL, NULL, NULL, &r) && r.status != 403)
                fail(w, "%s: a logout with %s's cookie and its own CSRF token answered %d", cred_name(c), vs->user,
                     r.status);
        }
        if (r.body)
            scan(w, c, "POST /api/logout", "/api/logout", NULL, &r);
        hh_test_resp_free(&r);
        if (expect(w, vs, "GET", "/api/me", NULL, 200) != 200)
            fail(w, "%s: %s's session ended by another's logout", cred_name(c), vs->user);
    }
}

/* The web UI's files (built into the binary) hold no data: every one of
 * them, without a key and with a session, holds no marker at all. */
static void attack_static(world_t *w, const cred_t *session)
{
    for (size_t i = 0; i <= hh_web_assets_n; i++) {
        char path[256];
        if (i == hh_web_assets_n)
            snprintf(path, sizeof path, "/");
        else
            snprintf(path, sizeof path, "/assets/%s", hh_web_assets[i].path);
        for (int as = 0; as < 2; as++) {
            const cred_t *c = as ? session : &w->anon;
            hh_test_resp_t r;
            if (!send_as(w, c, "GET", path, NULL, NULL, 0, &r))
                continue;
            char what[300];
            snprintf(what, sizeof what, "GET %s", path);
            scan_all(w, cred_name(c), what, path, NULL, &r);
            if (r.status != 200)
                fail(w, "%s %s: %d", cred_name(c), what, r.status);
            hh_test_resp_free(&r);
        }
    }
}

/* Logins naming another department's user with a wrong password answer
 * exactly like an unknown name (one failure per name: the throttle). */
static void attack_login(world_t *w)
{
    for (int y = 0; y < N_DEPT; y++) {
        const char *u = w->d[y].member;
        char missing[64], bf[256], bm[256];
        snprintf(missing, sizeof missing, "%.*szz", (int)strlen(u) - 2, u);
        snprintf(bf, sizeof bf, "{\"username\":\"%s\",\"password\":\"not the password 1\"}", u);
        snprintf(bm, sizeof bm, "{\"username\":\"%s\",\"password\":\"not the password 1\"}", missing);
        pair(w, &w->anon, "POST /api/login, wrong password", "POST", NULL, "/api/login", bf, u, "/api/login", bm,
             missing);
    }
}

/* Generation routes that name nothing: /v1/completions (also with
 * another's conversation id, which it does not record into) and
 * /v1/embeddings, scanned. */
static void attack_generation(world_t *w, const cred_t *c)
{
    const conv_mark_t *v = foreign_conv(w, c);
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\":\"stories260K\",\"prompt\":\"The secret code of the handbook is\",\"max_tokens\":3,"
             "\"temperature\":0,\"hoheit\":{\"conversation_id\":%lld}}", (long long)v->id);
    expect(w, c, "POST", "/v1/completions", body, 0);
    expect(w, c, "POST", "/v1/embeddings", "{\"model\":\"bert-q8_0\",\"input\":\"the secret code of the handbook\"}",
           200);
}

/* What root sees of something, as one string (caller frees): GET path's
 * body, with the object members named in drop removed from every element
 * of "data" (values that change by themselves, like last use) and, with
 * active_only, the elements whose "active" is false left out (a key a
 * user made and revoked again in the attacks). */
static char *snapshot(world_t *w, const char *path, const char *const *drop, bool active_only)
{
    hh_test_resp_t r;
    char *s = NULL;
    if (hh_test_http(w->h.port, "GET", path, w->root, NULL, &r) == 0 && r.status == 200 && r.j) {
        cJSON *data = cJSON_GetObjectItemCaseSensitive(r.j, "data");
        for (int i = cJSON_GetArraySize(data) - 1; active_only && i >= 0; i--)
            if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, i), "active")))
                cJSON_DeleteItemFromArray(data, i);
        cJSON *it;
        cJSON_ArrayForEach(it, data)
            for (size_t i = 0; drop && drop[i]; i++)
                cJSON_DeleteItemFromObjectCaseSensitive(it, drop[i]);
        s = cJSON_PrintUnformatted(r.j);
    }
    w->n_requests++;
    hh_test_resp_free(&r);
    return s ? s : strdup("(no answer)");
}

#define N_SNAPS 6

static void snapshots(world_t *w, char *out[N_SNAPS])
{
    static const char *const user_drop[] = { "last_login", "last_key_use", NULL };
    static const char *const key_drop[] = { "last_used_at", NULL };
    out[0] = snapshot(w, "/api/admin/users", user_drop, false);
    out[1] = snapshot(w, "/api/admin/departments", NULL, false);
    out[2] = snapshot(w, "/api/collections", NULL, false);
    out[3] = snapshot(w, "/api/usage?by=user", NULL, false);
    out[5] = snapshot(w, "/api/admin/quotas", NULL, false);
    /* every key of every user: none revoked, none added */
    char *all = strdup("");
    for (int k = -1; all && k < N_DEPT * 3; k++) {
        char path[128], *next = NULL;
        snprintf(path, sizeof path, "/api/admin/users/%s/keys", k < 0 ? "root" : w->c[k].user);
        char *one = snapshot(w, path, key_drop, true);
        if (asprintf(&next, "%s%s\n", all, one) < 0)
            next = NULL;
        free(one);
        free(all);
        all = next;
    }
    out[4] = all;
}

/* Every conversation as its owner left it: title, one turn; and every
 * key still opens its owner's account. */
static void part2_unchanged(world_t *w)
{
    for (int k = 0; k < w->n_conv; k++) {
        const conv_mark_t *v = &w->conv[k];
        const cred_t *o = k < N_DEPT * 3 ? &w->c[k] : &w->admin;
        char path[96];
        snprintf(path, sizeof path, "/api/conversations/%lld", (long long)v->id);
        hh_test_resp_t r;
        if (!send_as(w, o, "GET", path, NULL, NULL, 0, &r))
            continue;
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(r.j, "n_messages");
        if (r.status != 200 || strcmp(hh_test_json_str(r.j, "title"), v->title) != 0 || !cJSON_IsNumber(n) ||
            n->valueint != 2 || !strstr(r.body, v->text))
            fail(w, "%s's conversation changed: %d %.300s", v->owner, r.status, r.body);
        hh_test_resp_free(&r);
        if (send_as(w, o, "GET", "/api/conversations", NULL, NULL, 0, &r)) {
            const cJSON *total = cJSON_GetObjectItemCaseSensitive(r.j, "total");
            if (r.status != 200 || !cJSON_IsNumber(total) || total->valueint != 1)
                fail(w, "%s holds other conversations than their own one: %.300s", v->owner, r.body);
        }
        hh_test_resp_free(&r);
    }
    for (int k = -1; k < N_DEPT * 3; k++) {
        const cred_t *c = k < 0 ? &w->admin : &w->c[k];
        hh_test_resp_t r;
        if (send_as(w, c, "GET", "/api/me", NULL, NULL, 0, &r) &&
            (r.status != 200 || strcmp(hh_test_json_str(r.j, "user"), c->user) != 0))
            fail(w, "%s's key no longer works: %d %.200s", c->user, r.status, r.body);
        hh_test_resp_free(&r);
    }
}

/* Controls: the owner does find their conversation, and the scan flags it
 * when shown to anyone else. */
static void part2_controls(world_t *w)
{
    const conv_mark_t *v = &w->conv[0];
    char path[160];
    snprintf(path, sizeof path, "/api/conversations?q=%s", v->text);
    hh_test_resp_t r;
    if (send_as(w, &w->c[0], "GET", path, NULL, NULL, 0, &r)) {
        const cJSON *total = cJSON_GetObjectItemCaseSensitive(r.j, "total");
        if (r.status != 200 || !cJSON_IsNumber(total) || total->valueint != 1 || !strstr(r.body, v->title))
            fail(w, "control: %s does not find their own conversation: %.300s", v->owner, r.body);
        if (scan_convs(w, w->c[1].user, "control", "control", "", NULL, &r, true) < 1)
            fail(w, "control: the scan does not flag %s's conversation shown to a colleague", v->owner);
    }
    hh_test_resp_free(&r);
}

/* ---- agents (issue 16) ------------------------------------------------------ */

/* Per department an agent only its members may run (its name and system
 * prompt are markers) and one run of it by its member (the run's input
 * and id are markers): what the other departments must never see. */
static bool agents_build(world_t *w)
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
        if (!send_as(w, &w->admin, "POST", "/api/agents", NULL, body, 0, &r) || r.status != 201) {
            printf("    agent of %s: %d %s\n", d->name, r.status, r.body);
            hh_test_resp_free(&r);
            return false;
        }
        hh_test_resp_free(&r);
        snprintf(body, sizeof body,
                 "{\"model\":\"agent:%s\",\"input\":\"Note %s\",\"max_output_tokens\":2,\"temperature\":0}",
                 d->agent, d->run_text);
        const cJSON *id = NULL;
        if (send_as(w, &w->c[3 * i], "POST", "/v1/responses", NULL, body, 0, &r))
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
                forbid(w, x, w->d[y].agent);
                forbid(w, x, w->d[y].agent_prompt);
                forbid(w, x, w->d[y].run_text);
                forbid(w, x, w->d[y].run_id);
            }
    return true;
}

/* Agents and runs: the definitions' changes are the admin's alone; another
 * department's agent (read or run) answers like a missing one, and so does
 * anyone else's run (read or continued), a colleague's included. Admins
 * and auditors read every agent and run by their role. */
static void attack_agents(world_t *w, const cred_t *c)
{
    bool admin = c == &w->admin, auditor = !strcmp(c->role, "auditor");
    if (auditor) {   /* auditors list every department's agents by their role: the status only */
        hh_test_resp_t r;
        memset(&r, 0, sizeof r);
        if (!send_as(w, c, "GET", "/api/agents", NULL, NULL, 0, &r) || r.status != 200)
            fail(w, "%s GET /api/agents: %d, expected 200", cred_name(c), r.status);
        hh_test_resp_free(&r);
    } else {
        expect(w, c, "GET", "/api/agents", NULL, 200);
    }
    char path[256], pm[256], bf[512], bm[512], what[128], miss[80];
    if (!admin) {
        expect(w, c, "POST", "/api/agents",
               "{\"name\":\"intruder\",\"model\":\"stories260K\",\"tools\":[\"calculator\"]}", 403);
        for (int y = 0; y < N_DEPT; y++) {
            snprintf(path, sizeof path, "/api/agents/%s", w->d[y].agent);
            expect(w, c, "PUT", path, "{\"max_steps\":2,\"departments\":[]}", 403);
            expect(w, c, "DELETE", path, NULL, 403);
        }
    }
    if (admin || auditor)
        return;
    for (int y = 0; y < N_DEPT; y++) {
        const dept_t *d = &w->d[y];
        if (y != c->dept) {
            snprintf(miss, sizeof miss, "zzagent%s", w->hex);
            snprintf(path, sizeof path, "/api/agents/%s", d->agent);
            snprintf(pm, sizeof pm, "/api/agents/%s", miss);
            snprintf(what, sizeof what, "GET another department's agent %s", d->agent);
            pair(w, c, what, "GET", NULL, path, NULL, d->agent, pm, NULL, miss);
            snprintf(bf, sizeof bf, "{\"model\":\"agent:%s\",\"input\":\"hello\",\"max_output_tokens\":2}",
                     d->agent);
            snprintf(bm, sizeof bm, "{\"model\":\"agent:%s\",\"input\":\"hello\",\"max_output_tokens\":2}", miss);
            snprintf(what, sizeof what, "run another department's agent %s", d->agent);
            pair(w, c, what, "POST", NULL, "/v1/responses", bf, d->agent, "/v1/responses", bm, miss);
        }
        if (y == c->dept && !strcmp(c->role, "member"))
            continue;   /* the member's own run */
        /* a missing id of the same form: the last hex digit changed */
        snprintf(miss, sizeof miss, "%s", d->run_id);
        size_t n = strlen(miss);
        if (n)
            miss[n - 1] = miss[n - 1] == '0' ? '1' : '0';
        snprintf(path, sizeof path, "/api/agents/runs/%s", d->run_id);
        snprintf(pm, sizeof pm, "/api/agents/runs/%s", miss);
        snprintf(what, sizeof what, "GET %s's run", d->member);
        pair(w, c, what, "GET", NULL, path, NULL, d->run_id, pm, NULL, miss);
        snprintf(bf, sizeof bf,
                 "{\"model\":\"stories260K\",\"input\":\"and then?\",\"max_output_tokens\":2,"
                 "\"previous_response_id\":\"%s\"}", d->run_id);
        snprintf(bm, sizeof bm,
                 "{\"model\":\"stories260K\",\"input\":\"and then?\",\"max_output_tokens\":2,"
                 "\"previous_response_id\":\"%s\"}", miss);
        snprintf(what, sizeof what, "continue %s's run", d->member);
        pair(w, c, what, "POST", NULL, "/v1/responses", bf, d->run_id, "/v1/responses", bm, miss);
    }
}

/* ---- agent memory (issue 16) ------------------------------------------------ */

/* Every department's member stores one fact (a marker) in their memory. */
static bool memory_build(world_t *w)
{
    for (int i = 0; i < N_DEPT; i++) {
        dept_t *d = &w->d[i];
        snprintf(d->mem_text, sizeof d->mem_text, "%smemory%s", d->tag, w->hex);
        char body[128];
        snprintf(body, sizeof body, "{\"text\":\"%s\"}", d->mem_text);
        hh_test_resp_t r;
        memset(&r, 0, sizeof r);
        const cJSON *id = NULL;
        if (send_as(w, &w->c[3 * i], "POST", "/api/me/memory", NULL, body, 0, &r))
            id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
        bool ok = r.status == 201 && cJSON_IsNumber(id);
        if (ok)
            d->mem_id = (int64_t)id->valuedouble;
        hh_test_resp_free(&r);
        if (!ok)
            return false;
    }
    for (int x = 0; x < N_DEPT; x++)
        for (int y = 0; y < N_DEPT; y++)
            if (y != x)
                forbid(w, x, w->d[y].mem_text);
    return true;
}

/* /api/me/memory: the list holds nothing of anyone else's; every other
 * user's fact (a colleague's too, whatever the role) changed or deleted
 * answers exactly like a missing one. */
static void attack_memory(world_t *w, const cred_t *c)
{
    hh_test_resp_t r;
    memset(&r, 0, sizeof r);
    if (send_as(w, c, "GET", "/api/me/memory", NULL, NULL, 0, &r)) {
        scan(w, c, "GET /api/me/memory", "/api/me/memory", NULL, &r);
        for (int y = 0; y < N_DEPT; y++)
            if (strcmp(w->d[y].member, c->user) != 0 && strstr(r.body, w->d[y].mem_text))
                fail(w, "%s GET /api/me/memory lists %s's fact", cred_name(c), w->d[y].member);
    }
    hh_test_resp_free(&r);
    expect(w, c, "POST", "/api/me/memory", "{\"text\":\"\"}", c->key[0] || c->session ? 400 : 401);
    for (int y = 0; y < N_DEPT; y++) {
        const dept_t *d = &w->d[y];
        if (!strcmp(d->member, c->user))
            continue;   /* their own */
        char tf[24], tm[24], pf[64], pm[64], what[160];
        snprintf(tf, sizeof tf, "%lld", (long long)d->mem_id);
        snprintf(tm, sizeof tm, "%lld", (long long)(d->mem_id ^ 1));
        snprintf(pf, sizeof pf, "/api/me/memory/%s", tf);
        snprintf(pm, sizeof pm, "/api/me/memory/%s", tm);
        snprintf(what, sizeof what, "PUT %s's memory", d->member);
        pair(w, c, what, "PUT", NULL, pf, "{\"text\":\"planted fact\"}", tf, pm, "{\"text\":\"planted fact\"}", tm);
        snprintf(what, sizeof what, "DELETE %s's memory", d->member);
        pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
    }
}

/* Every member's fact is still theirs, unchanged. */
static void memory_unchanged(world_t *w)
{
    for (int i = 0; i < N_DEPT; i++) {
        const dept_t *d = &w->d[i];
        hh_test_resp_t r;
        memset(&r, 0, sizeof r);
        if (send_as(w, &w->c[3 * i], "GET", "/api/me/memory", NULL, NULL, 0, &r) &&
            (r.status != 200 || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")) != 1 ||
             !strstr(r.body, d->mem_text) || strstr(r.body, "planted")))
            fail(w, "%s's memory changed: %d %.300s", d->member, r.status, r.body);
        hh_test_resp_free(&r);
    }
}

/* ---- the MCP server (issue 16) ------------------------------------------- */

#define MCP_ACCEPT "Accept: application/json, text/event-stream"

/* An MCP session of c at /mcp (initialize, notifications/initialized):
 * true and its id in sid. */
static bool mcp_open(world_t *w, const cred_t *c, char sid[64])
{
    hh_test_resp_t r;
    memset(&r, 0, sizeof r);
    bool ok = send_hdr(w, c, "POST", "/mcp", NULL,
                       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                       "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"attack\",\"version\":\"1\"}}}",
                       MCP_ACCEPT, &r) &&
              r.status == 200 && hh_test_resp_header(&r, "Mcp-Session-Id", sid, 64);
    if (ok)
        scan(w, c, "mcp initialize", "/mcp", NULL, &r);
    hh_test_resp_free(&r);
    char hdr[160];
    snprintf(hdr, sizeof hdr, MCP_ACCEPT "\r\nMcp-Session-Id: %s", ok ? sid : "");
    ok = ok && send_hdr(w, c, "POST", "/mcp", NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                        hdr, &r) && r.status == 202;
    hh_test_resp_free(&r);
    if (!ok)
        fail(w, "%s: no MCP session", cred_name(c));
    return ok;
}

/* The pair test over /mcp: the same message with the header lines hdr_f /
 * hdr_m and the bodies body_f / body_m answers alike once tok_f / tok_m
 * are replaced; both answers are scanned. */
static void mcp_pair(world_t *w, const cred_t *c, const char *what, const char *method, const char *hdr_f,
                     const char *body_f, const char *tok_f, const char *hdr_m, const char *body_m, const char *tok_m)
{
    hh_test_resp_t rf, rm;
    memset(&rf, 0, sizeof rf);
    memset(&rm, 0, sizeof rm);
    w->n_pairs++;
    if (send_hdr(w, c, method, "/mcp", NULL, body_f, hdr_f, &rf) &&
        send_hdr(w, c, method, "/mcp", NULL, body_m, hdr_m, &rm)) {
        scan(w, c, what, "/mcp", body_f, &rf);
        scan(w, c, what, "/mcp", body_m, &rm);
        char *nf = normalize(&rf, tok_f), *nm = normalize(&rm, tok_m);
        if (!nf || !nm || strcmp(nf, nm) != 0)
            fail(w, "%s %s: another's '%s' and the missing '%s' answer differently:\n      %.400s\n      %.400s",
                 cred_name(c), what, tok_f, tok_m, nf ? nf : "?", nm ? nm : "?");
        free(nf);
        free(nm);
    }
    hh_test_resp_free(&rf);
    hh_test_resp_free(&rm);
}

/* Whether document id belongs to a department other than dept (the shared
 * collection: Engineering's only). */
static bool foreign_doc(const world_t *w, int dept, double id)
{
    for (int y = 0; y < N_DEPT; y++)
        for (int k = 0; y != dept && k < DOCS_PER; k++)
            if ((double)w->d[y].docs[k] == id)
                return true;
    return dept == 2 && (id == (double)w->shared_docs[0] || id == (double)w->shared_docs[1]);
}

/* /mcp: tools/call knowledge_search and ask with c's rights only: a query
 * naming another department's secret finds none of its documents, ask
 * naming its collection answers like a missing collection; another user's
 * session (tools/list, DELETE) answers exactly like a missing one and
 * lives on. Runs in phase B (an ask records usage). */
static void attack_mcp(world_t *w, const cred_t *c)
{
    char sid[64], vsid[64], hdr[160], hm[160], miss[64], bf[512], bm[512], what[160];
    const cred_t *victim = NULL;
    for (int i = 0; i < w->n_creds && !victim; i++)
        if (!w->c[i].session && strcmp(w->c[i].user, c->user) != 0)
            victim = &w->c[i];
    if (!victim || !mcp_open(w, c, sid) || !mcp_open(w, victim, vsid))
        return;
    snprintf(hdr, sizeof hdr, MCP_ACCEPT "\r\nMcp-Session-Id: %s", sid);
    for (int y = 0; y < N_DEPT && c->dept >= 0; y++) {
        const dept_t *d = &w->d[y];
        if (y == c->dept)
            continue;
        /* knowledge_search for their secret: scanned, and no document of theirs */
        snprintf(bf, sizeof bf,
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"knowledge_search\","
                 "\"arguments\":{\"query\":\"quarterly budget review %s %s\"}}}", d->secret, d->number);
        hh_test_resp_t r;
        memset(&r, 0, sizeof r);
        if (send_hdr(w, c, "POST", "/mcp", NULL, bf, hdr, &r)) {
            snprintf(what, sizeof what, "mcp knowledge_search for %s's secret", d->name);
            scan(w, c, what, "/mcp", bf, &r);
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
                                                                    cJSON_GetObjectItemCaseSensitive(r.j, "result"),
                                                                    "structuredContent"),
                                                                "results");
            if (r.status != 200 || !cJSON_IsArray(res))
                fail(w, "%s %s: %d %.300s", cred_name(c), what, r.status, r.body);
            const cJSON *it;
            cJSON_ArrayForEach(it, res) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "document_id");
                if (!cJSON_IsNumber(id) || foreign_doc(w, c->dept, id->valuedouble))
                    fail(w, "%s %s: another department's document: %.300s", cred_name(c), what, r.body);
            }
        }
        hh_test_resp_free(&r);
        /* ask naming their collection: like a missing collection */
        snprintf(miss, sizeof miss, "%s-docs-%.8s", d->tag, "0badf00d");
        const char *afmt = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\","
                           "\"arguments\":{\"question\":\"What does the handbook say about the quarterly budget "
                           "review?\",\"collections\":[\"%s\"],\"retrieval\":\"bm25\"}}}";
        snprintf(bf, sizeof bf, afmt, d->coll);
        snprintf(bm, sizeof bm, afmt, miss);
        snprintf(what, sizeof what, "mcp ask in %s's collection", d->name);
        mcp_pair(w, c, what, "POST", hdr, bf, d->coll, hdr, bm, miss);
    }
    /* the victim's session: like a missing one, for tools/list and DELETE */
    snprintf(miss, sizeof miss, "%s", vsid);
    miss[0] = miss[0] == '0' ? '1' : '0';
    snprintf(hdr, sizeof hdr, MCP_ACCEPT "\r\nMcp-Session-Id: %s", vsid);
    snprintf(hm, sizeof hm, MCP_ACCEPT "\r\nMcp-Session-Id: %s", miss);
    const char *list = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}";
    snprintf(what, sizeof what, "mcp tools/list in %s's session", victim->user);
    mcp_pair(w, c, what, "POST", hdr, list, vsid, hm, list, miss);
    snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s", vsid);
    snprintf(hm, sizeof hm, "Mcp-Session-Id: %s", miss);
    snprintf(what, sizeof what, "mcp DELETE %s's session", victim->user);
    mcp_pair(w, c, what, "DELETE", hdr, NULL, vsid, hm, NULL, miss);
    hh_test_resp_t r;
    memset(&r, 0, sizeof r);
    snprintf(hdr, sizeof hdr, MCP_ACCEPT "\r\nMcp-Session-Id: %s", vsid);
    if (send_hdr(w, victim, "POST", "/mcp", NULL, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}", hdr, &r) &&
        r.status != 200)
        fail(w, "%s's MCP session ended by %s: %d", victim->user, cred_name(c), r.status);
    hh_test_resp_free(&r);
    snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s", sid);   /* c ends its own */
    if (send_hdr(w, c, "DELETE", "/mcp", NULL, NULL, hdr, &r) && r.status != 200)
        fail(w, "%s cannot end its own MCP session: %d", cred_name(c), r.status);
    hh_test_resp_free(&r);
}

/* Part 2 in order; returns its requests. */
static long attack_part2(world_t *w)
{
    long n0 = w->n_requests;
    char *before[N_SNAPS], *after[N_SNAPS];
    /* quotas so generous that they limit nothing, on every member and
     * department: the attacks try to raise, tighten and remove them */
    for (int i = 0; i < N_DEPT; i++) {
        hh_store_quota_t q = { .tokens_per_day = HH_QUOTA_KEEP, .tokens_per_month = 1000000000,
                               .requests_per_minute = HH_QUOTA_KEEP, .concurrent = HH_QUOTA_KEEP };
        hh_err_t err;
        if (hh_store_quota_set(w->h.st, false, w->d[i].member, &q, &err) != 0 ||
            hh_store_quota_set(w->h.st, true, w->d[i].name, &q, &err) != 0)
            fail(w, "quota of %s: %s", w->d[i].name, err.msg);
    }
    if (!memory_build(w))
        fail(w, "the members' memories could not be stored");
    snapshots(w, before);
    part2_controls(w);
    /* phase A: no request may generate anything (usage unchanged) */
    const cred_t *all[MAX_CREDS + 1];
    int n = 0;
    for (int i = 0; i < w->n_creds; i++)
        all[n++] = &w->c[i];
    all[n++] = &w->admin;
    for (int i = 0; i < n; i++) {
        attack_conversations(w, all[i]);
        attack_collections_admin(w, all[i]);
        attack_keys(w, all[i]);
        attack_admin(w, all[i]);
        attack_misc(w, all[i]);
        attack_agents(w, all[i]);
        attack_memory(w, all[i]);
    }
    attack_memory(w, &w->anon);
    memory_unchanged(w);
    attack_misc(w, &w->anon);
    attack_static(w, &w->c[N_DEPT * 3]);
    attack_login(w);
    snapshots(w, after);
    static const char *const what[N_SNAPS] = { "the users", "the departments", "the collections and their rights",
                                               "the usage (a refused request generated)", "the API keys",
                                               "the quotas" };
    for (int i = 0; i < N_SNAPS; i++) {
        if (strcmp(before[i], after[i]) != 0)
            fail(w, "%s changed:\n      %.600s\n      %.600s", what[i], before[i], after[i]);
        free(before[i]);
        free(after[i]);
    }
    part2_unchanged(w);
    /* phase B: generation that names nothing of anyone's */
    for (int i = 0; i < N_DEPT * 3; i++)
        attack_generation(w, &w->c[i]);
    for (int i = 0; i < n; i++)
        attack_mcp(w, all[i]);
    part2_unchanged(w);
    /* last (it ends the user's other sessions): Engineering's member
     * changes their own password; HR's member still logs in with theirs */
    cred_t *eng = &w->c[6];
    expect(w, eng, "POST", "/api/me/password",
           "{\"current_password\":\"" PW "\",\"new_password\":\"engineering's new one 2026\"}", 200);
    cred_t hr = w->c[0];
    if (login(w, &hr, PW) != 0)
        fail(w, "HR's member cannot log in after Engineering's password change");
    return w->n_requests - n0;
}

/* Every line of the route table was reached by an attack. */
static int routes_unattacked(world_t *w)
{
    int missing = 0;
    const hh_http_route_info_t *rt;
    for (size_t i = 0; (rt = hh_http_route(i)); i++) {
        if (i >= MAX_ROUTES || !w->hit[i]) {
            missing++;
            printf("    route %s %s is not attacked by the suite (tests/test_isolation.c: add its attack)\n",
                   rt->method, rt->path);
        }
    }
    return missing;
}

TEST(isolation_suite_3000_requests)
{
    double t0 = hh_test_now_s();
    world_t *w = calloc(1, sizeof *w);
    ASSERT_TRUE(w != NULL);
    if (!world_build(w)) {
        hh_test_srv_stop(&w->h);
        free(w);
        ASSERT_TRUE(!"the world could not be built");
    }
    if (!conv_build(w)) {
        hh_test_srv_stop(&w->h);
        free(w);
        ASSERT_TRUE(!"the conversations could not be made");
    }
    if (!agents_build(w)) {
        hh_test_srv_stop(&w->h);
        free(w);
        ASSERT_TRUE(!"the agents and their runs could not be made");
    }
    double t1 = hh_test_now_s();
    long setup_requests = w->n_requests;
    w->track = true;
    /* part 1: knowledge base, approvals, register, GDPR, usage, metrics */
    positive_controls(w);
    for (int i = 0; i < w->n_creds; i++)
        attack_all(w, &w->c[i]);
    nothing_changed(w);
    double t2 = hh_test_now_s();
    long n_part1 = w->n_requests - setup_requests, pairs1 = w->n_pairs;
    /* part 2: conversations, administration, own keys and password,
     * collections' rights, records and classification, login and logout,
     * the web UI's files */
    long n_part2 = attack_part2(w);
    nothing_changed(w);
    w->track = false;
    double t3 = hh_test_now_s();
    int unattacked = routes_unattacked(w);
    int n_routes = 0;
    while (hh_http_route((size_t)n_routes))
        n_routes++;
    printf("    isolation: %d credentials (+ root and no key in part 2), %ld requests (%ld setup); part 1: %ld requests, "
           "%ld foreign/missing pairs, %.1f s; part 2: %ld requests, %ld pairs, %.1f s; %ld answers scanned, "
           "%d of %d routes attacked, %d leaks; setup %.1f s\n",
           w->n_creds, w->n_requests, setup_requests, n_part1, pairs1, t2 - t1, n_part2, w->n_pairs - pairs1,
           t3 - t2, w->n_scanned, n_routes - unattacked, n_routes, w->n_fails, t1 - t0);
    long n_req = w->n_requests - setup_requests;
    int n_fails = w->n_fails;
    hh_test_srv_stop(&w->h);
    free(w);
    ASSERT_EQ_INT(n_fails, 0);
    ASSERT_EQ_INT(unattacked, 0);
    ASSERT_GE(n_req, 3000);
}
