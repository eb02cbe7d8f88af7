/* test_isolation_part2.c - part 2 of the tenant-isolation suite (see
 * tests/test_isolation.c for what it asserts): the routes added after
 * part 1 (conversations, the administration API, own keys and password,
 * collections' rights, the register's records and classification, login
 * and logout, the web UI's files, agents and their runs, agent memory, the
 * MCP server), attacked by every credential, root and an anonymous caller. */
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

/* ---- part 2: the routes added since (conversations, administration, web UI) */

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
            iso_pair(w, c, what, "GET", NULL, pf, NULL, tf, pm, NULL, tm);
        }
        snprintf(tf, sizeof tf, "%lld", (long long)v->id);
        snprintf(tm, sizeof tm, "%lld", (long long)mid);
        snprintf(pf, sizeof pf, "/api/conversations/%s", tf);
        snprintf(pm, sizeof pm, "/api/conversations/%s", tm);
        snprintf(what, sizeof what, "PATCH %s (%s's)", pf, v->owner);
        iso_pair(w, c, what, "PATCH", NULL, pf, "{\"title\":\"taken over\"}", tf, pm, "{\"title\":\"taken over\"}", tm);
        snprintf(what, sizeof what, "DELETE %s (%s's)", pf, v->owner);
        iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        static const char *const exports[3] = { "/export", "/export?format=md", "/export?format=json" };
        for (int e = 0; e < 3; e++) {
            char xf[160], xm[160];
            snprintf(xf, sizeof xf, "%s%s", pf, exports[e]);
            snprintf(xm, sizeof xm, "%s%s", pm, exports[e]);
            snprintf(what, sizeof what, "GET %s (%s's)", xf, v->owner);
            iso_pair(w, c, what, "GET", NULL, xf, NULL, tf, xm, NULL, tm);
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
        iso_pair(w, c, what, "POST", NULL, "/v1/chat/completions", bf, tf, "/v1/chat/completions", bm, tm);
        const char *afmt = "{\"question\":\"What did I ask before?\",\"conversation_id\":%s}";
        snprintf(bf, sizeof bf, afmt, tf);
        snprintf(bm, sizeof bm, afmt, tm);
        snprintf(what, sizeof what, "ask into %s's conversation %s", v->owner, tf);
        iso_pair(w, c, what, "POST", NULL, "/api/ask", bf, tf, "/api/ask", bm, tm);
        /* the search: their title and text against missing markers of the same shape */
        const char *marks[2] = { v->title, v->text };
        for (int m = 0; m < 2; m++) {
            char mk[64];
            snprintf(mk, sizeof mk, "%.*s0badf00d", (int)(strlen(marks[m]) - 8), marks[m]);
            snprintf(pf, sizeof pf, "/api/conversations?q=%s", marks[m]);
            snprintf(pm, sizeof pm, "/api/conversations?q=%s", mk);
            snprintf(what, sizeof what, "GET %s (%s's)", pf, v->owner);
            iso_pair(w, c, what, "GET", NULL, pf, NULL, marks[m], pm, NULL, mk);
        }
    }
    /* a new conversation naming someone else as its owner is c's own
     * (the unknown fields are ignored) and goes again */
    const conv_mark_t *v = foreign_conv(w, c);
    char body[256];
    snprintf(body, sizeof body, "{\"title\":\"planted\",\"user\":\"%s\",\"user_id\":1,\"owner\":\"%s\"}", v->owner,
             v->owner);
    hh_test_resp_t r;
    if (iso_send_as(w, c, "POST", "/api/conversations", NULL, body, 0, &r)) {
        iso_scan(w, c, "POST /api/conversations", "/api/conversations", body, &r);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
        if (r.status != 201 || !cJSON_IsNumber(id))
            iso_fail(w, "%s POST /api/conversations: %d %.200s", iso_cred_name(c), r.status, r.body);
        else {
            char path[96];
            snprintf(path, sizeof path, "/api/conversations/%lld", (long long)id->valuedouble);
            iso_expect(w, c, "DELETE", path, NULL, 200);
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
        if (!iso_send_as(w, c, "GET", lists[i], NULL, NULL, 0, &r))
            continue;
        char what[160];
        snprintf(what, sizeof what, "GET %s", lists[i]);
        iso_scan(w, c, what, lists[i], NULL, &r);
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
                iso_fail(w, "%s %s: lists a conversation that is not theirs: %.200s", iso_cred_name(c), what, r.body);
        }
        if (r.status != 200 || n != own || !cJSON_IsNumber(total) || total->valueint != own)
            iso_fail(w, "%s %s: %d, %d conversations (total %s) instead of their own %d: %.200s", iso_cred_name(c), what,
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
            iso_variant(tf, sizeof tf, name, id, v == P_ID ? V_ID : v == P_UPPER ? V_UPPER : v == P_CAPITAL ? V_CAPITAL : V_EXACT);
            iso_variant(tm, sizeof tm, mname, id + 5000, v == P_ID ? V_ID : v == P_UPPER ? V_UPPER : v == P_CAPITAL ? V_CAPITAL : V_EXACT);
            snprintf(pf, sizeof pf, "/api/collections/%s", tf);
            snprintf(pm, sizeof pm, "/api/collections/%s", tm);
            snprintf(what, sizeof what, "DELETE %s", pf);
            iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
            const char *depts[2] = { own, ydept };
            for (int d = 0; d < 2; d++) {
                snprintf(pf, sizeof pf, "/api/collections/%s/rights/%s", tf, depts[d]);
                snprintf(pm, sizeof pm, "/api/collections/%s/rights/%s", tm, depts[d]);
                snprintf(what, sizeof what, "PUT %s", pf);
                iso_pair(w, c, what, "PUT", NULL, pf, "{\"right\":\"manage\"}", tf, pm, "{\"right\":\"manage\"}", tm);
                snprintf(what, sizeof what, "DELETE %s", pf);
                iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
            }
        }
    }
    /* HR (write) and Sales (read) on the collection they share: readable,
     * so 403, and no right of theirs manages it */
    if (c->dept != 2) {
        char path[160];
        snprintf(path, sizeof path, "/api/collections/%s", w->shared);
        iso_expect(w, c, "DELETE", path, NULL, 403);
        snprintf(path, sizeof path, "/api/collections/%s/rights/%s", w->shared, w->d[c->dept].name);
        iso_expect(w, c, "PUT", path, "{\"right\":\"manage\"}", 403);
        snprintf(path, sizeof path, "/api/collections/%s/rights/Sales", w->shared);
        iso_expect(w, c, "DELETE", path, NULL, 403);
    }
    iso_expect(w, c, "GET", "/api/collections", NULL, 200);
    iso_expect(w, c, "POST", "/api/collections", "{\"name\":\"taken-over\",\"departments\":{\"HR\":\"read\"}}", 403);
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
        iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        if (strcmp(c->role, "admin") != 0) {
            snprintf(pf, sizeof pf, "/api/admin/keys/%s", tf);
            snprintf(pm, sizeof pm, "/api/admin/keys/%s", tm);
            snprintf(what, sizeof what, "DELETE %s (%s's key)", pf, v->user);
            iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
        }
    }
    hh_test_resp_t r;
    if (iso_send_as(w, c, "GET", "/api/me/keys", NULL, NULL, 0, &r)) {
        iso_scan(w, c, "GET /api/me/keys", "/api/me/keys", NULL, &r);
        const cJSON *it;
        int n = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r.j, "data")) {
            n++;
            if (strcmp(hh_test_json_str(it, "user"), c->user) != 0)
                iso_fail(w, "%s GET /api/me/keys: lists %s's key", iso_cred_name(c), hh_test_json_str(it, "user"));
        }
        if (r.status != 200 || n < 1)
            iso_fail(w, "%s GET /api/me/keys: %d with %d keys", iso_cred_name(c), r.status, n);
    }
    hh_test_resp_free(&r);
    if (!c->session) {   /* a key mints no keys */
        iso_expect(w, c, "POST", "/api/me/keys", NULL, 403);
        return;
    }
    /* a session makes its own key; another department's user cannot
     * revoke it (404 like a missing id), its owner can */
    if (!iso_send_as(w, c, "POST", "/api/me/keys", NULL, NULL, 0, &r))
        return;
    iso_scan(w, c, "POST /api/me/keys", "/api/me/keys", NULL, &r);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r.j, "id");
    char key[HH_KEY_LEN + 1];
    snprintf(key, sizeof key, "%s", hh_test_json_str(r.j, "key"));
    bool made = r.status == 201 && cJSON_IsNumber(id) && !strcmp(hh_test_json_str(r.j, "user"), c->user);
    int64_t kid = made ? (int64_t)id->valuedouble : 0;
    if (!made)
        iso_fail(w, "%s POST /api/me/keys: %d %.200s", iso_cred_name(c), r.status, r.body);
    hh_test_resp_free(&r);
    if (!made)
        return;
    const cred_t *other = &w->c[((c->dept + 1) % N_DEPT) * 3];
    char tf[24], tm[24], pf[64], pm[64];
    snprintf(tf, sizeof tf, "%lld", (long long)kid);
    snprintf(tm, sizeof tm, "%lld", (long long)(kid + 900000));
    snprintf(pf, sizeof pf, "/api/me/keys/%s", tf);
    snprintf(pm, sizeof pm, "/api/me/keys/%s", tm);
    iso_pair(w, other, "DELETE another's fresh key", "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
    cred_t fresh = *c;
    fresh.session = false;
    snprintf(fresh.key, sizeof fresh.key, "%s", key);
    if (iso_expect(w, &fresh, "GET", "/api/me", NULL, 200) != 200)
        iso_fail(w, "%s: the fresh key stopped working after another user's revocation attempt", iso_cred_name(c));
    iso_expect(w, c, "DELETE", pf, NULL, 200);
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
            iso_expect(w, c, "GET", reads[i], NULL, 403);
    }
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"evil%s\",\"role\":\"admin\",\"departments\":[\"%s\"]}", w->hex,
             w->d[c->dept].name);
    iso_expect(w, c, "POST", "/api/admin/users", body, 403);
    iso_expect(w, c, "POST", "/api/admin/departments", "{\"name\":\"Shadow\"}", 403);
    iso_expect(w, c, "POST", "/api/usecases?classify=true", "{\"answers\":{\"h_employment\":true}}", 403);
    snprintf(body, sizeof body, "{\"slug\":\"evil-%s\",\"name\":\"evil\",\"purpose\":\"x\",\"models\":[\"stories260K\"]}",
             w->hex);
    iso_expect(w, c, "POST", "/api/usecases", body, 403);
    /* quotas: raising or removing one's own or one's department's limit */
    static const char *const unlimited = "{\"tokens_per_day\":1000000000000,\"requests_per_minute\":100000}";
    char qp[160];
    snprintf(qp, sizeof qp, "/api/admin/quotas/users/%s", c->user);
    iso_expect(w, c, "PUT", qp, unlimited, 403);
    iso_expect(w, c, "DELETE", qp, NULL, 403);
    snprintf(qp, sizeof qp, "/api/admin/quotas/departments/%s", w->d[c->dept].name);
    iso_expect(w, c, "PUT", qp, unlimited, 403);
    iso_expect(w, c, "DELETE", qp, NULL, 403);
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
            iso_pair(w, c, what, named[i].method, NULL, pf, named[i].body, d->member, pm, named[i].body, missing);
        }
        char dm[32];
        snprintf(dm, sizeof dm, "%.*szz", (int)strlen(d->name) - 2, d->name);
        snprintf(pf, sizeof pf, "/api/admin/departments/%s", d->name);
        snprintf(pm, sizeof pm, "/api/admin/departments/%s", dm);
        snprintf(what, sizeof what, "PATCH %s", pf);
        iso_pair(w, c, what, "PATCH", NULL, pf, "{\"name\":\"Shadow\"}", d->name, pm, "{\"name\":\"Shadow\"}", dm);
        snprintf(what, sizeof what, "DELETE %s", pf);
        iso_pair(w, c, what, "DELETE", NULL, pf, NULL, d->name, pm, NULL, dm);
        /* another department's and its member's quota, like a missing one's */
        static const char *const tight = "{\"tokens_per_day\":1}";
        const char *subj[2][2] = { { "users", d->member }, { "departments", d->name } };
        const char *absent[2] = { missing, dm };
        for (int k = 0; k < 2; k++) {
            snprintf(pf, sizeof pf, "/api/admin/quotas/%s/%s", subj[k][0], subj[k][1]);
            snprintf(pm, sizeof pm, "/api/admin/quotas/%s/%s", subj[k][0], absent[k]);
            snprintf(what, sizeof what, "PUT %s", pf);
            iso_pair(w, c, what, "PUT", NULL, pf, tight, subj[k][1], pm, tight, absent[k]);
            snprintf(what, sizeof what, "DELETE %s", pf);
            iso_pair(w, c, what, "DELETE", NULL, pf, NULL, subj[k][1], pm, NULL, absent[k]);
        }
        if (!auditor) {   /* another department's use case's system card */
            char ms[64];
            snprintf(ms, sizeof ms, "%s-uc-%.8s", d->tag, "00000000");
            for (int h = 0; h < 2; h++) {
                snprintf(pf, sizeof pf, "/api/usecases/%s?card=%s", d->uc, h ? "html" : "md");
                snprintf(pm, sizeof pm, "/api/usecases/%s?card=%s", ms, h ? "html" : "md");
                snprintf(what, sizeof what, "GET %s", pf);
                iso_pair(w, c, what, "GET", NULL, pf, NULL, d->uc, pm, NULL, ms);
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
    iso_expect(w, c, "GET", "/health", NULL, 200);
    snprintf(pf, sizeof pf, "/v1/models/%s", y->coll);
    snprintf(pm, sizeof pm, "/v1/models/%s", mname);
    iso_pair(w, c, "GET /v1/models/{collection}", "GET", NULL, pf, NULL, y->coll, pm, NULL, mname);
    snprintf(pf, sizeof pf, "/assets/%s.js", y->coll);
    snprintf(pm, sizeof pm, "/assets/%s.js", mname);
    iso_pair(w, c, "GET /assets/{collection}.js", "GET", NULL, pf, NULL, y->coll, pm, NULL, mname);
    if (c->dept < 0)
        return;
    iso_expect(w, c, "GET", "/v1/models/stories260K", NULL, 200);
    /* the own password: a field naming someone else is refused */
    snprintf(body, sizeof body, "{\"current_password\":\"" PW "\",\"new_password\":\"taken over 2026\",\"user\":\"%s\"}",
             v->user);
    iso_expect(w, c, "POST", "/api/me/password", body, 400);
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
            if (iso_send_hdr(w, c, "POST", "/api/logout", NULL, NULL, hdr, &r) && r.status != 400)
                iso_fail(w, "%s: a logout with a key and %s's cookie answered %d", iso_cred_name(c), vs->user, r.status);
        } else {
            cred_t mixed = *vs;
            snprintf(mixed.csrf, sizeof mixed.csrf, "%s", c->csrf);
            if (iso_send_hdr(w, &mixed, "POST", "/api/logout", NULL, NULL, NULL, &r) && r.status != 403)
                iso_fail(w, "%s: a logout with %s's cookie and its own CSRF token answered %d", iso_cred_name(c), vs->user,
                     r.status);
        }
        if (r.body)
            iso_scan(w, c, "POST /api/logout", "/api/logout", NULL, &r);
        hh_test_resp_free(&r);
        if (iso_expect(w, vs, "GET", "/api/me", NULL, 200) != 200)
            iso_fail(w, "%s: %s's session ended by another's logout", iso_cred_name(c), vs->user);
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
            if (!iso_send_as(w, c, "GET", path, NULL, NULL, 0, &r))
                continue;
            char what[300];
            snprintf(what, sizeof what, "GET %s", path);
            iso_scan_all(w, iso_cred_name(c), what, path, NULL, &r);
            if (r.status != 200)
                iso_fail(w, "%s %s: %d", iso_cred_name(c), what, r.status);
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
        iso_pair(w, &w->anon, "POST /api/login, wrong password", "POST", NULL, "/api/login", bf, u, "/api/login", bm,
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
    iso_expect(w, c, "POST", "/v1/completions", body, 0);
    iso_expect(w, c, "POST", "/v1/embeddings", "{\"model\":\"bert-q8_0\",\"input\":\"the secret code of the handbook\"}",
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
        if (!iso_send_as(w, o, "GET", path, NULL, NULL, 0, &r))
            continue;
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(r.j, "n_messages");
        if (r.status != 200 || strcmp(hh_test_json_str(r.j, "title"), v->title) != 0 || !cJSON_IsNumber(n) ||
            n->valueint != 2 || !strstr(r.body, v->text))
            iso_fail(w, "%s's conversation changed: %d %.300s", v->owner, r.status, r.body);
        hh_test_resp_free(&r);
        if (iso_send_as(w, o, "GET", "/api/conversations", NULL, NULL, 0, &r)) {
            const cJSON *total = cJSON_GetObjectItemCaseSensitive(r.j, "total");
            if (r.status != 200 || !cJSON_IsNumber(total) || total->valueint != 1)
                iso_fail(w, "%s holds other conversations than their own one: %.300s", v->owner, r.body);
        }
        hh_test_resp_free(&r);
    }
    for (int k = -1; k < N_DEPT * 3; k++) {
        const cred_t *c = k < 0 ? &w->admin : &w->c[k];
        hh_test_resp_t r;
        if (iso_send_as(w, c, "GET", "/api/me", NULL, NULL, 0, &r) &&
            (r.status != 200 || strcmp(hh_test_json_str(r.j, "user"), c->user) != 0))
            iso_fail(w, "%s's key no longer works: %d %.200s", c->user, r.status, r.body);
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
    if (iso_send_as(w, &w->c[0], "GET", path, NULL, NULL, 0, &r)) {
        const cJSON *total = cJSON_GetObjectItemCaseSensitive(r.j, "total");
        if (r.status != 200 || !cJSON_IsNumber(total) || total->valueint != 1 || !strstr(r.body, v->title))
            iso_fail(w, "control: %s does not find their own conversation: %.300s", v->owner, r.body);
        if (iso_scan_convs(w, w->c[1].user, "control", "control", "", NULL, &r, true) < 1)
            iso_fail(w, "control: the scan does not flag %s's conversation shown to a colleague", v->owner);
    }
    hh_test_resp_free(&r);
}

/* ---- agents (issue 16) ------------------------------------------------------ */

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
        if (!iso_send_as(w, c, "GET", "/api/agents", NULL, NULL, 0, &r) || r.status != 200)
            iso_fail(w, "%s GET /api/agents: %d, expected 200", iso_cred_name(c), r.status);
        hh_test_resp_free(&r);
    } else {
        iso_expect(w, c, "GET", "/api/agents", NULL, 200);
    }
    char path[256], pm[256], bf[512], bm[512], what[128], miss[80];
    if (!admin) {
        iso_expect(w, c, "POST", "/api/agents",
               "{\"name\":\"intruder\",\"model\":\"stories260K\",\"tools\":[\"calculator\"]}", 403);
        for (int y = 0; y < N_DEPT; y++) {
            snprintf(path, sizeof path, "/api/agents/%s", w->d[y].agent);
            iso_expect(w, c, "PUT", path, "{\"max_steps\":2,\"departments\":[]}", 403);
            iso_expect(w, c, "DELETE", path, NULL, 403);
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
            iso_pair(w, c, what, "GET", NULL, path, NULL, d->agent, pm, NULL, miss);
            snprintf(bf, sizeof bf, "{\"model\":\"agent:%s\",\"input\":\"hello\",\"max_output_tokens\":2}",
                     d->agent);
            snprintf(bm, sizeof bm, "{\"model\":\"agent:%s\",\"input\":\"hello\",\"max_output_tokens\":2}", miss);
            snprintf(what, sizeof what, "run another department's agent %s", d->agent);
            iso_pair(w, c, what, "POST", NULL, "/v1/responses", bf, d->agent, "/v1/responses", bm, miss);
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
        iso_pair(w, c, what, "GET", NULL, path, NULL, d->run_id, pm, NULL, miss);
        snprintf(bf, sizeof bf,
                 "{\"model\":\"stories260K\",\"input\":\"and then?\",\"max_output_tokens\":2,"
                 "\"previous_response_id\":\"%s\"}", d->run_id);
        snprintf(bm, sizeof bm,
                 "{\"model\":\"stories260K\",\"input\":\"and then?\",\"max_output_tokens\":2,"
                 "\"previous_response_id\":\"%s\"}", miss);
        snprintf(what, sizeof what, "continue %s's run", d->member);
        iso_pair(w, c, what, "POST", NULL, "/v1/responses", bf, d->run_id, "/v1/responses", bm, miss);
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
        if (iso_send_as(w, &w->c[3 * i], "POST", "/api/me/memory", NULL, body, 0, &r))
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
                iso_forbid(w, x, w->d[y].mem_text);
    return true;
}

/* /api/me/memory: the list holds nothing of anyone else's; every other
 * user's fact (a colleague's too, whatever the role) changed or deleted
 * answers exactly like a missing one. */
static void attack_memory(world_t *w, const cred_t *c)
{
    hh_test_resp_t r;
    memset(&r, 0, sizeof r);
    if (iso_send_as(w, c, "GET", "/api/me/memory", NULL, NULL, 0, &r)) {
        iso_scan(w, c, "GET /api/me/memory", "/api/me/memory", NULL, &r);
        for (int y = 0; y < N_DEPT; y++)
            if (strcmp(w->d[y].member, c->user) != 0 && strstr(r.body, w->d[y].mem_text))
                iso_fail(w, "%s GET /api/me/memory lists %s's fact", iso_cred_name(c), w->d[y].member);
    }
    hh_test_resp_free(&r);
    iso_expect(w, c, "POST", "/api/me/memory", "{\"text\":\"\"}", c->key[0] || c->session ? 400 : 401);
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
        iso_pair(w, c, what, "PUT", NULL, pf, "{\"text\":\"planted fact\"}", tf, pm, "{\"text\":\"planted fact\"}", tm);
        snprintf(what, sizeof what, "DELETE %s's memory", d->member);
        iso_pair(w, c, what, "DELETE", NULL, pf, NULL, tf, pm, NULL, tm);
    }
}

/* Every member's fact is still theirs, unchanged. */
static void memory_unchanged(world_t *w)
{
    for (int i = 0; i < N_DEPT; i++) {
        const dept_t *d = &w->d[i];
        hh_test_resp_t r;
        memset(&r, 0, sizeof r);
        if (iso_send_as(w, &w->c[3 * i], "GET", "/api/me/memory", NULL, NULL, 0, &r) &&
            (r.status != 200 || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.j, "data")) != 1 ||
             !strstr(r.body, d->mem_text) || strstr(r.body, "planted")))
            iso_fail(w, "%s's memory changed: %d %.300s", d->member, r.status, r.body);
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
    bool ok = iso_send_hdr(w, c, "POST", "/mcp", NULL,
                       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                       "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"attack\",\"version\":\"1\"}}}",
                       MCP_ACCEPT, &r) &&
              r.status == 200 && hh_test_resp_header(&r, "Mcp-Session-Id", sid, 64);
    if (ok)
        iso_scan(w, c, "mcp initialize", "/mcp", NULL, &r);
    hh_test_resp_free(&r);
    char hdr[160];
    snprintf(hdr, sizeof hdr, MCP_ACCEPT "\r\nMcp-Session-Id: %s", ok ? sid : "");
    ok = ok && iso_send_hdr(w, c, "POST", "/mcp", NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                        hdr, &r) && r.status == 202;
    hh_test_resp_free(&r);
    if (!ok)
        iso_fail(w, "%s: no MCP session", iso_cred_name(c));
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
    if (iso_send_hdr(w, c, method, "/mcp", NULL, body_f, hdr_f, &rf) &&
        iso_send_hdr(w, c, method, "/mcp", NULL, body_m, hdr_m, &rm)) {
        iso_scan(w, c, what, "/mcp", body_f, &rf);
        iso_scan(w, c, what, "/mcp", body_m, &rm);
        char *nf = iso_normalize(&rf, tok_f), *nm = iso_normalize(&rm, tok_m);
        if (!nf || !nm || strcmp(nf, nm) != 0)
            iso_fail(w, "%s %s: another's '%s' and the missing '%s' answer differently:\n      %.400s\n      %.400s",
                 iso_cred_name(c), what, tok_f, tok_m, nf ? nf : "?", nm ? nm : "?");
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
        if (iso_send_hdr(w, c, "POST", "/mcp", NULL, bf, hdr, &r)) {
            snprintf(what, sizeof what, "mcp knowledge_search for %s's secret", d->name);
            iso_scan(w, c, what, "/mcp", bf, &r);
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
                                                                    cJSON_GetObjectItemCaseSensitive(r.j, "result"),
                                                                    "structuredContent"),
                                                                "results");
            if (r.status != 200 || !cJSON_IsArray(res))
                iso_fail(w, "%s %s: %d %.300s", iso_cred_name(c), what, r.status, r.body);
            const cJSON *it;
            cJSON_ArrayForEach(it, res) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "document_id");
                if (!cJSON_IsNumber(id) || foreign_doc(w, c->dept, id->valuedouble))
                    iso_fail(w, "%s %s: another department's document: %.300s", iso_cred_name(c), what, r.body);
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
    if (iso_send_hdr(w, victim, "POST", "/mcp", NULL, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}", hdr, &r) &&
        r.status != 200)
        iso_fail(w, "%s's MCP session ended by %s: %d", victim->user, iso_cred_name(c), r.status);
    hh_test_resp_free(&r);
    snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s", sid);   /* c ends its own */
    if (iso_send_hdr(w, c, "DELETE", "/mcp", NULL, NULL, hdr, &r) && r.status != 200)
        iso_fail(w, "%s cannot end its own MCP session: %d", iso_cred_name(c), r.status);
    hh_test_resp_free(&r);
}

/* Part 2 in order; returns its requests. */
long iso_attack_part2(world_t *w)
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
            iso_fail(w, "quota of %s: %s", w->d[i].name, err.msg);
    }
    if (!memory_build(w))
        iso_fail(w, "the members' memories could not be stored");
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
            iso_fail(w, "%s changed:\n      %.600s\n      %.600s", what[i], before[i], after[i]);
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
    iso_expect(w, eng, "POST", "/api/me/password",
           "{\"current_password\":\"" PW "\",\"new_password\":\"engineering's new one 2026\"}", 200);
    cred_t hr = w->c[0];
    if (iso_login(w, &hr, PW) != 0)
        iso_fail(w, "HR's member cannot log in after Engineering's password change");
    return w->n_requests - n0;
}
