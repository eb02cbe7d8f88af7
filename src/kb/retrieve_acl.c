/* retrieve_acl.c - what a search may see (retrieve_int.h): the collections
 * the user may read (narrowed to the ones asked for), and the access set -
 * their chunks' ids and index lengths - that both lists filter by before
 * ranking, cached per connection and collection list while the database is
 * unchanged. */
#include "kb/retrieve.h"
#include "kb/retrieve_int.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* ---- access: the readable collection ids, as a JSON array to bind ------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The collections of this search: the user's readable ones, narrowed to
 * q->collections when given. *json is a malloc'd JSON array of ids. */
int hh_rt_allowed_collections(hh_store_t *s, const hh_kb_query_t *q, char **json, size_t *n_allowed,
                               hh_err_t *err)
{
    *json = NULL;
    *n_allowed = 0;
    hh_store_user_t u;
    int rc = hh_store_user_get(s, q->user, &u, err);
    if (rc)
        return rc == HH_ENOENT ? hh_err_set(err, HH_ENOENT, -1, "unknown user '%s'", q->user) : rc;
    int64_t *ids = NULL;
    size_t n = 0;
    if (!u.disabled) {
        rc = hh_store_readable_collections(s, u.id, &ids, &n, err);
        if (rc)
            return rc;
    }
    int64_t *sel = ids;
    size_t n_sel = n;
    int64_t *want = NULL;
    if (q->collections && q->n_collections) {
        want = malloc(q->n_collections * sizeof *want);
        if (!want) {
            free(ids);
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        }
        for (size_t i = 0; i < q->n_collections; i++) {
            hh_store_collection_t c;
            const char *name = q->collections[i] ? q->collections[i] : "";
            int r = hh_store_collection_get(s, name, &c, NULL);
            bool ok = r == 0 && bsearch(&c.id, ids, n, sizeof *ids, cmp_i64);
            if (!ok) {
                free(ids);
                free(want);
                return hh_err_set(err, HH_ENOENT, -1, "no readable collection named '%s'", name);
            }
            want[i] = c.id;
        }
        sel = want;
        n_sel = q->n_collections;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n_sel; i++) {
        cJSON *num = cJSON_CreateNumber((double)sel[i]);
        if (!num || !cJSON_AddItemToArray(arr, num)) {
            cJSON_Delete(num);
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    char *txt = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    free(ids);
    free(want);
    if (!txt)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    *json = txt;
    *n_allowed = n_sel;
    return 0;
}

/* The total of a chunks_fts_docsize row's sizes (one SQLite varint per
 * column): the chunk's FTS5 length in tokens, all columns. */
static int64_t docsize_tokens(const unsigned char *p, int nb)
{
    int64_t total = 0;
    for (int i = 0; p && i < nb;) {
        /* SQLite varint: big-endian 7-bit groups, high bit = more; a ninth
         * byte contributes all 8 bits */
        uint64_t x = 0;
        int k = 0;
        for (; k < 8 && i < nb; k++) {
            unsigned char c = p[i++];
            x = (x << 7) | (c & 0x7f);
            if (!(c & 0x80))
                break;
        }
        if (k == 8 && i < nb)
            x = (x << 8) | p[i++];
        total += (int64_t)x;
    }
    return total;
}

/* The access filter of the allowed collections coll_json: their chunks'
 * ids (sorted) and FTS5 lengths (from the index's per-row sizes), read in
 * one pass over those chunks only - the work, and so the time, depends on
 * the allowed chunks, not on other collections'. The caller holds s->mu. */
static int allowed_chunks(hh_store_t *s, const char *coll_json, hh_rt_acl_t *out, hh_err_t *err)
{
    static const char sql[] =
        "SELECT c.id, z.sz FROM chunks c JOIN documents d ON d.id = c.document_id"
        " LEFT JOIN chunks_terms_docsize z ON z.id = c.id"
        " WHERE d.collection_id IN (SELECT value FROM json_each(?1)) ORDER BY c.id";
    memset(out, 0, sizeof *out);
    int64_t *v = NULL, tokens = 0;
    int32_t *lv = NULL;
    size_t nv = 0, cap = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "chunk ids prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, coll_json, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (nv == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            int64_t *np = realloc(v, nc * sizeof *np);
            if (np)
                v = np;
            int32_t *nl = np ? realloc(lv, nc * sizeof *nl) : NULL;
            if (!nl) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                goto cleanup;
            }
            lv = nl;
            cap = nc;
        }
        int64_t len = docsize_tokens(sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1));
        v[nv] = sqlite3_column_int64(st, 0);
        lv[nv++] = len > INT32_MAX ? INT32_MAX : (int32_t)len;
        tokens += len;
    }
    if (step != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "chunk ids");
cleanup:
    sqlite3_finalize(st);
    if (rc) {
        free(v);
        free(lv);
        return rc;
    }
    out->ids = v;
    out->lens = lv;
    out->n_ids = nv;
    out->n_tokens = tokens;
    return 0;
}

/* id's index in the set, or -1 (binary search). */
ptrdiff_t hh_rt_acl_find(const hh_rt_acl_t *a, int64_t id)
{
    size_t lo = 0, hi = a->n_ids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->ids[mid] == id)
            return (ptrdiff_t)mid;
        if (a->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Whether id is in the set. */
static bool acl_has(const hh_rt_acl_t *a, int64_t id)
{
    return hh_rt_acl_find(a, id) >= 0;
}

/* ---- the access filter as a set of chunk ids ------------------------------
 * Both lists filter by the same set: the chunks of the allowed collections,
 * as a sorted id list (with each chunk's length, for BM25). BM25 applies it inside the FTS5 query (WHERE
 * hh_kb_allowed(rowid, ?) - before ranking), the dense search as the
 * index's id filter. The set is cached per connection and
 * collection list, and recomputed whenever the database changed (this
 * connection's sqlite3_total_changes64 or another's PRAGMA data_version),
 * so a cached set is always the current one. The cache of a connection
 * goes when the connection closes (the SQL function's destructor). */

typedef struct acl_entry {
    sqlite3          *db;
    char             *coll;     /* the collection list (JSON) */
    int64_t           changes, dver;
    uint64_t          used;
    hh_rt_acl_t        b;
    struct acl_entry *next;
} acl_entry_t;

typedef struct acl_db {
    sqlite3       *db;
    struct acl_db *next;
} acl_db_t;

#define ACL_CACHE_PER_DB 8

static pthread_mutex_t g_acl_mu = PTHREAD_MUTEX_INITIALIZER;
static acl_entry_t    *g_acl;
static acl_db_t       *g_acl_dbs;
static uint64_t        g_acl_tick;

void hh_rt_acl_free(hh_rt_acl_t *b)
{
    free(b->ids);
    free(b->lens);
    memset(b, 0, sizeof *b);
}

static void acl_entry_free(acl_entry_t *e)
{
    hh_rt_acl_free(&e->b);
    free(e->coll);
    free(e);
}

/* The SQL function's destructor: the connection closes. */
static void acl_db_closed(void *p)
{
    pthread_mutex_lock(&g_acl_mu);
    for (acl_entry_t **pe = &g_acl; *pe;) {
        acl_entry_t *e = *pe;
        if (e->db == p) {
            *pe = e->next;
            acl_entry_free(e);
        } else {
            pe = &e->next;
        }
    }
    for (acl_db_t **pd = &g_acl_dbs; *pd; pd = &(*pd)->next)
        if ((*pd)->db == p) {
            acl_db_t *d = *pd;
            *pd = d->next;
            free(d);
            break;
        }
    pthread_mutex_unlock(&g_acl_mu);
}

/* hh_kb_allowed(rowid, set pointer) -> 1 if the chunk is allowed. */
static void acl_sql_allowed(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const hh_rt_acl_t *b = sqlite3_value_pointer(argv[1], "hh_kb_acl");
    int64_t id = sqlite3_value_int64(argv[0]);
    sqlite3_result_int(ctx, b && acl_has(b, id));
}

static int acl_copy(const hh_rt_acl_t *from, hh_rt_acl_t *to)
{
    memset(to, 0, sizeof *to);
    if (from->n_ids && (!(to->ids = malloc(from->n_ids * sizeof *to->ids)) ||
                        !(to->lens = malloc(from->n_ids * sizeof *to->lens)))) {
        free(to->ids);
        to->ids = NULL;
        return HH_ENOMEM;
    }
    if (from->n_ids) {
        memcpy(to->ids, from->ids, from->n_ids * sizeof *to->ids);
        memcpy(to->lens, from->lens, from->n_ids * sizeof *to->lens);
    }
    to->n_ids = from->n_ids;
    to->n_tokens = from->n_tokens;
    return 0;
}

/* The allowed chunks of coll_json as a set (*out owned by the caller:
 * hh_rt_acl_free); registers hh_kb_allowed on the connection. Takes s->mu. */
int hh_rt_acl_get(hh_store_t *s, const char *coll_json, hh_rt_acl_t *out, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    sqlite3 *db = s->db;
    /* register the filter function once per connection */
    pthread_mutex_lock(&g_acl_mu);
    bool known = false;
    for (acl_db_t *d = g_acl_dbs; d && !known; d = d->next)
        known = d->db == db;
    acl_db_t *nd = known ? NULL : calloc(1, sizeof *nd);
    pthread_mutex_unlock(&g_acl_mu);
    if (!known) {
        if (!nd) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            goto cleanup;
        }
        if (sqlite3_create_function_v2(db, "hh_kb_allowed", 2, SQLITE_UTF8, db, acl_sql_allowed, NULL, NULL,
                                       acl_db_closed) != SQLITE_OK) {
            free(nd);
            rc = hh_store_db_fail(s, err, "register hh_kb_allowed");
            goto cleanup;
        }
        if (hh_rt_fts5_register_tf(db) != SQLITE_OK) {
            /* hh_kb_allowed stays registered: its destructor frees the
             * cache of this connection; the next call tries again */
            free(nd);
            rc = hh_err_set(err, HH_EIO, -1, "cannot register the FTS5 ranking function");
            goto cleanup;
        }
        nd->db = db;
        pthread_mutex_lock(&g_acl_mu);
        nd->next = g_acl_dbs;
        g_acl_dbs = nd;
        pthread_mutex_unlock(&g_acl_mu);
    }
    int64_t dver = -1, changes = (int64_t)sqlite3_total_changes64(db);
    if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        dver = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    pthread_mutex_lock(&g_acl_mu);
    for (acl_entry_t *e = g_acl; e; e = e->next)
        if (e->db == db && e->changes == changes && e->dver == dver && !strcmp(e->coll, coll_json)) {
            e->used = ++g_acl_tick;
            rc = acl_copy(&e->b, out) ? hh_err_set(err, HH_ENOMEM, -1, "out of memory") : 0;
            pthread_mutex_unlock(&g_acl_mu);
            goto cleanup;
        }
    pthread_mutex_unlock(&g_acl_mu);
    if ((rc = allowed_chunks(s, coll_json, out, err)))
        goto cleanup;
    /* remember it (at most ACL_CACHE_PER_DB sets per connection) */
    acl_entry_t *e = calloc(1, sizeof *e);
    if (e && (e->coll = strdup(coll_json)) && acl_copy(out, &e->b) == 0) {
        e->db = db;
        e->changes = changes;
        e->dver = dver;
        pthread_mutex_lock(&g_acl_mu);
        e->used = ++g_acl_tick;
        size_t count = 0;
        acl_entry_t **oldest = NULL;
        for (acl_entry_t **pe = &g_acl; *pe; pe = &(*pe)->next)
            if ((*pe)->db == db) {
                count++;
                if (!oldest || (*pe)->used < (*oldest)->used)
                    oldest = pe;
            }
        if (count >= ACL_CACHE_PER_DB && oldest) {
            acl_entry_t *o = *oldest;
            *oldest = o->next;
            acl_entry_free(o);
        }
        e->next = g_acl;
        g_acl = e;
        pthread_mutex_unlock(&g_acl_mu);
    } else if (e) {
        acl_entry_free(e);
    }
cleanup:
    pthread_mutex_unlock(&s->mu);
    if (rc)
        hh_rt_acl_free(out);
    return rc;
}
