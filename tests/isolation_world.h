/* isolation_world.h - the world of the tenant-isolation suite
 * (tests/test_isolation.c, part 2 in tests/test_isolation_part2.c): three
 * departments with their users, credentials, collections, documents, use
 * cases, approvals, conversations and agents, holding per-run markers; and
 * the attacker's tools: send a request as a credential, scan an answer for
 * another department's markers, and the foreign-versus-missing pair test.
 * Setup and helpers are in isolation_world.c. */
#ifndef HH_TEST_ISOLATION_WORLD_H
#define HH_TEST_ISOLATION_WORLD_H

#include "harness.h"
#include "http_helpers.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#define PW "isolation password 2026"

/* Collection-name variants: what the attacker writes for a name. */
enum { V_EXACT, V_UPPER, V_CAPITAL, V_TRAIL, V_LEAD, V_ID, V_MIX_OWN_FIRST, V_MIX_FOREIGN_FIRST, N_VARIANTS };

/* The name as written in variant v (name: the collection's name, id its id). */
void iso_variant(char *out, size_t cap, const char *name, int64_t id, int v);

/* The shared setup and tools; each is described at its definition in
 * isolation_world.c. */
void iso_rand_hex(char *out, size_t n_chars);
void iso_fail(world_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool iso_route_matches(const char *pattern, const char *path);
void iso_track_route(world_t *w, const char *method, const char *path);
bool iso_send_hdr(world_t *w, const cred_t *c, const char *method, const char *path, const char *ctype,
                     const char *body, const char *extra, hh_test_resp_t *r);
bool iso_send_as(world_t *w, const cred_t *c, const char *method, const char *path, const char *ctype,
                    const char *body, size_t body_len, hh_test_resp_t *r);
const char *iso_cred_name(const cred_t *c);
int iso_scan_as(world_t *w, int dept, const char *who, const char *what, const char *sent_path,
                   const char *sent_body, const hh_test_resp_t *r, bool quiet);
int iso_scan_convs(world_t *w, const char *user, const char *who, const char *what, const char *sent_path,
                      const char *sent_body, const hh_test_resp_t *r, bool quiet);
void iso_scan_all(world_t *w, const char *who, const char *what, const char *sent_path, const char *sent_body,
                     const hh_test_resp_t *r);
void iso_scan(world_t *w, const cred_t *c, const char *what, const char *sent_path, const char *sent_body,
                 const hh_test_resp_t *r);
char *iso_normalize(const hh_test_resp_t *r, const char *tok);
void iso_pair(world_t *w, const cred_t *c, const char *what, const char *method, const char *ctype,
                 const char *path_f, const char *body_f, const char *tok_f, const char *path_m, const char *body_m,
                 const char *tok_m);
int iso_probe(world_t *w, const cred_t *c, const char *method, const char *path, const char *body);
void iso_doc_text(char *out, size_t cap, const char *title, const char *secret, const char *number, int i);
int iso_upload_as_root(world_t *w, const char *coll, const char *name, const char *text, int64_t *id);
int iso_login(world_t *w, cred_t *c, const char *pw);
void iso_forbid(world_t *w, int dept, const char *s);
bool iso_world_build(world_t *w);
bool iso_conv_build(world_t *w);
int iso_expect(world_t *w, const cred_t *c, const char *method, const char *path, const char *body, int want);
bool iso_agents_build(world_t *w);

/* Part 2 of the suite (test_isolation_part2.c): the routes added since
 * part 1; the number of requests it made. */
long iso_attack_part2(world_t *w);

#endif
