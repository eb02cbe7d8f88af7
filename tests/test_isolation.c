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
 * route needs its attack (in part 2). The requests of both parts are counted and
 * must reach 3000.
 * Part 2's attacks are in tests/test_isolation_part2.c, the world and the
 * attacker's tools in tests/isolation_world.c, the side channels (prefix
 * cache, ranking, identifiers) in tests/test_isolation_side.c. */
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

/* ---- the attacks ---------------------------------------------------------- */

static const char *const g_vnames[N_VARIANTS] = { "exact", "upper", "capital", "trailing space", "leading space",
                                                  "id", "own first", "foreign first" };

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
        iso_variant(tf, sizeof tf, fname, fid, v);
        iso_variant(tm, sizeof tm, mname, mid, v);
        coll_array(af, sizeof af, tf, own, v);
        coll_array(am, sizeof am, tm, own, v);
        for (int m = 0; m < 3; m++) {
            const char *fmt = "{\"question\":\"What does the %s say about the quarterly budget review?\","
                              "\"collections\":%s,\"retrieval\":\"%s\"}";
            snprintf(bf, sizeof bf, fmt, "handbook", af, modes[m]);
            snprintf(bm, sizeof bm, fmt, "handbook", am, modes[m]);
            snprintf(what, sizeof what, "/api/ask %s (%s, %s)", tf, g_vnames[v], modes[m]);
            iso_pair(w, c, what, "POST", NULL, "/api/ask", bf, tf, "/api/ask", bm, tm);
        }
        const char *cfmt = "{\"model\":\"stories260K\",\"max_tokens\":4,\"temperature\":0,\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"Summarize the quarterly budget review.\"}],"
                           "\"hoheit\":{\"collections\":%s}}";
        snprintf(bf, sizeof bf, cfmt, af);
        snprintf(bm, sizeof bm, cfmt, am);
        snprintf(what, sizeof what, "chat hoheit.collections %s (%s)", tf, g_vnames[v]);
        iso_pair(w, c, what, "POST", NULL, "/v1/chat/completions", bf, tf, "/v1/chat/completions", bm, tm);
        if (!query_safe(v))
            continue;
        char pf[200], pm[200];
        snprintf(pf, sizeof pf, "/api/documents?collection=%s", tf);
        snprintf(pm, sizeof pm, "/api/documents?collection=%s", tm);
        snprintf(what, sizeof what, "GET %s (%s)", pf, g_vnames[v]);
        iso_pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
        /* an upload into it: refused before the body, like a missing one */
        static const char *const ufmt =
            "--hhB0undary\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n%s\r\n"
            "--hhB0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"planted.md\"\r\n"
            "Content-Type: text/markdown\r\n\r\n# Planted\n\nThe quarterly budget review moved to evil.example.\r\n"
            "--hhB0undary--\r\n";
        snprintf(bf, sizeof bf, ufmt, tf);
        snprintf(bm, sizeof bm, ufmt, tm);
        snprintf(what, sizeof what, "POST %s (upload, %s)", pf, g_vnames[v]);
        iso_pair(w, c, what, "POST", "multipart/form-data; boundary=hhB0undary", pf, bf, tf, pm, bm, tm);
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
        iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        if (f == 0) {
            snprintf(what, sizeof what, "GET %s", pf);
            iso_pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
            /* the stored original (GET /api/documents/{id}/file, read right) */
            snprintf(pf, sizeof pf, "/api/documents/%s/file", tf);
            snprintf(pm, sizeof pm, "/api/documents/%s/file", tm);
            snprintf(what, sizeof what, "GET %s", pf);
            iso_pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
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
        iso_pair(w, c, what, a ? "POST" : "GET", NULL, pf, bodies[a], tf, pm, bodies[a], tm);
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
        iso_pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
        snprintf(what, sizeof what, "PUT %s", pf);
        iso_pair(w, c, what, "PUT", NULL, pf, "{\"purpose\":\"taken over\"}", tf, pm, "{\"purpose\":\"taken over\"}", tm);
        snprintf(what, sizeof what, "DELETE %s", pf);
        iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
    }
    const char *cfmt = "{\"model\":\"stories260K\",\"max_tokens\":3,\"temperature\":0,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"Once upon\"}],\"hoheit\":{\"use_case\":\"%s\"}}";
    snprintf(bf, sizeof bf, cfmt, y->uc);
    snprintf(bm, sizeof bm, cfmt, ms);
    snprintf(what, sizeof what, "chat hoheit.use_case %s", y->uc);
    iso_pair(w, c, what, "POST", NULL, "/v1/chat/completions", bf, y->uc, "/v1/chat/completions", bm, ms);
    const char *afmt = "{\"question\":\"quarterly budget review\",\"use_case\":\"%s\"}";
    snprintf(bf, sizeof bf, afmt, y->uc);
    snprintf(bm, sizeof bm, afmt, ms);
    snprintf(what, sizeof what, "/api/ask use_case %s", y->uc);
    iso_pair(w, c, what, "POST", NULL, "/api/ask", bf, y->uc, "/api/ask", bm, ms);
}

/* GDPR export / erase naming another department's user (admins only). */
static void attack_gdpr(world_t *w, const cred_t *c, const char *user)
{
    char missing[64], bf[256], bm[256], what[160];
    snprintf(missing, sizeof missing, "%.*szz", (int)strlen(user) - 2, user);
    snprintf(bf, sizeof bf, "{\"subjects\":[\"%s\"]}", user);
    snprintf(bm, sizeof bm, "{\"subjects\":[\"%s\"]}", missing);
    snprintf(what, sizeof what, "gdpr export %s", user);
    iso_pair(w, c, what, "POST", NULL, "/api/gdpr/export", bf, user, "/api/gdpr/export", bm, missing);
    snprintf(bf, sizeof bf, "{\"subjects\":[\"%s\"],\"confirm\":true}", user);
    snprintf(bm, sizeof bm, "{\"subjects\":[\"%s\"],\"confirm\":true}", missing);
    snprintf(what, sizeof what, "gdpr erase %s", user);
    iso_pair(w, c, what, "POST", NULL, "/api/gdpr/erase", bf, user, "/api/gdpr/erase", bm, missing);
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
        iso_probe(w, c, "GET", gets[i], NULL);
    static const char *const compliance[] = { "/api/approvals", "/api/approvals?status=all", "/api/usage",
                                              "/api/usage?by=user", "/api/usage?by=use-case",
                                              "/api/usage?by=department", "/api/usecases", "/metrics" };
    for (size_t i = 0; !auditor && i < sizeof compliance / sizeof compliance[0]; i++)
        iso_probe(w, c, "GET", compliance[i], NULL);
    if (!auditor) {
        if (iso_probe(w, c, "GET", "/api/audit/export", NULL) != 403 || iso_probe(w, c, "GET", "/api/audit/verify", NULL) != 403)
            iso_fail(w, "%s: the audit routes did not answer 403", iso_cred_name(c));
    }
    if (iso_probe(w, c, "POST", "/api/retention/sweep", NULL) != 403)
        iso_fail(w, "%s: the retention sweep did not answer 403", iso_cred_name(c));
    /* every readable collection, questions full of other departments'
     * words (their secrets are sent, so only the rest is scanned) */
    char body[512];
    for (int y = 0; y < N_DEPT; y++) {
        if (y == c->dept)
            continue;
        snprintf(body, sizeof body, "{\"question\":\"%s handbook code quarterly budget review\"}", w->d[y].secret);
        iso_probe(w, c, "POST", "/api/ask", body);
        snprintf(body, sizeof body, "{\"question\":\"%s\",\"retrieval\":\"bm25\"}", w->d[y].number);
        iso_probe(w, c, "POST", "/api/ask", body);
    }
    iso_probe(w, c, "POST", "/api/ask", "{\"question\":\"What is the secret code of the handbook?\"}");
    iso_probe(w, c, "POST", "/v1/chat/completions",
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
    if (!iso_send_as(w, hr, "POST", "/api/ask", NULL, body, 0, &r) || r.status != 200 ||
        !strstr(r.body, w->d[0].secret))
        iso_fail(w, "control: HR's own ask does not show its secret: %.300s", r.body);
    hh_test_resp_free(&r);
    if (!iso_send_as(w, sales, "GET", "/api/documents", NULL, NULL, 0, &r) || !strstr(r.body, w->shared_title[0]) ||
        !strstr(r.body, w->d[1].title[2]))
        iso_fail(w, "control: Sales does not list its own and the shared documents: %.300s", r.body);
    hh_test_resp_free(&r);
    if (!iso_send_as(w, hr_ap, "GET", "/api/approvals", NULL, NULL, 0, &r) || !strstr(r.body, w->d[0].ap_text))
        iso_fail(w, "control: the HR approver does not see HR's approval: %.300s", r.body);
    hh_test_resp_free(&r);
    /* HR's list shown to Engineering would be a leak: the scan finds it */
    if (!iso_send_as(w, hr, "GET", "/api/documents", NULL, NULL, 0, &r) ||
        iso_scan_as(w, 2, "control", "control", "", NULL, &r, true) < 1 + DOCS_PER)
        iso_fail(w, "control: the scan does not flag HR's documents shown to Engineering");
    hh_test_resp_free(&r);
}

/* Everything is still there. */
static void nothing_changed(world_t *w)
{
    hh_test_resp_t r;
    if (hh_test_http(w->h.port, "GET", "/api/documents", w->root, NULL, &r) == 0) {
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data"));
        if (n != N_DEPT * DOCS_PER + 2)
            iso_fail(w, "the documents changed: %d instead of %d", n, N_DEPT * DOCS_PER + 2);
    }
    hh_test_resp_free(&r);
    if (hh_test_http(w->h.port, "GET", "/api/approvals", w->root, NULL, &r) == 0) {
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(r.j, "data"));
        if (n != N_DEPT * APS_PER)
            iso_fail(w, "pending approvals changed: %d instead of %d", n, N_DEPT * APS_PER);
    }
    hh_test_resp_free(&r);
    w->n_requests += 2;
}

/* Every line of the route table was reached by an attack. */
static int routes_unattacked(world_t *w)
{
    int missing = 0;
    const hh_http_route_info_t *rt;
    for (size_t i = 0; (rt = hh_http_route(i)); i++) {
        if (i >= MAX_ROUTES || !w->hit[i]) {
            missing++;
            printf("    route %s %s is not attacked by the suite (tests/test_isolation_part2.c: add its attack)\n",
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
    if (!iso_world_build(w)) {
        hh_test_srv_stop(&w->h);
        free(w);
        ASSERT_TRUE(!"the world could not be built");
    }
    if (!iso_conv_build(w)) {
        hh_test_srv_stop(&w->h);
        free(w);
        ASSERT_TRUE(!"the conversations could not be made");
    }
    if (!iso_agents_build(w)) {
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
    long n_part2 = iso_attack_part2(w);
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
