/* retrieve.c - ACL-first hybrid retrieval: BM25 (FTS5) and dense (vindex)
 * lists, each restricted to the collections the user may read inside the
 * search itself, fused by reciprocal rank. See retrieve.h.
 *
 * BM25 statistics (the number of chunks, their average length, each query
 * word's document frequency) are computed over the chunks of the searched
 * collections only, never over the whole FTS5 table: FTS5's own bm25()
 * takes them from every collection, so the order of two of a user's own
 * chunks would tell whether a word occurs in another department's
 * documents (issue 12, finding 4). FTS5 finds the matching chunks and an
 * auxiliary function (hh_kb_tf) reports each one's per-word counts; the
 * chunks' lengths come with the access set (read once from the index's
 * per-row sizes and cached with it: FTS5's own per-row length lookup was
 * half of the BM25 list's time); the score is computed here with FTS5's
 * formula and constants (tests/test_retrieve.c
 * retrieve_bm25_matches_reference recomputes it from the analyzed terms).
 *
 * The index ranked is chunks_terms, over each chunk's analyzed terms
 * (kb/analyze.h); the question's terms carry weights, and an expansion's IDF
 * is capped at its word's (see retrieve.h). Synonyms and translations come
 * from corpus-independent files, document frequencies from the readable
 * chunks only, and the reranking features from the candidate chunk and the
 * question alone: no term of another department's documents can move a
 * readable chunk up or down. */
#include "kb/retrieve.h"
#include "base/strbuf.h"
#include "kb/lang.h"
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAX_DEPTH     1000

#define MAX_FTS_WORDS 64

void hh_kb_hits_free(hh_kb_hit_t *hits, size_t n)
{
    if (!hits)
        return;
    for (size_t i = 0; i < n; i++) {
        free(hits[i].title);
        free(hits[i].heading_path);
        free(hits[i].text);
    }
    free(hits);
}

/* ---- words and the FTS5 query ------------------------------------------ */

static bool is_word_cp(utf8proc_int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

bool hh_kb_word_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *wlen)
{
    size_t i = *pos;
    bool in = false;
    size_t st = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        bool w = r > 0 && is_word_cp(cp);
        size_t step = r > 0 ? (size_t)r : 1;   /* an invalid byte is skipped alone */
        if (w && !in) {
            in = true;
            st = i;
        } else if (!w && in) {
            *start = st;
            *wlen = i - st;
            *pos = i;
            return true;
        }
        i += step;
    }
    *pos = len;
    if (in) {
        *start = st;
        *wlen = len - st;
        return true;
    }
    return false;
}

static int fts_query(const char *text, char **out);

int hh_kb_fts_query(const char *text, char **out)
{
    return fts_query(text, out);
}

/* The FTS5 query of analyzed terms: each quoted, joined with OR, in the
 * order of q->t (phrase i of the query is term i). */
static int terms_fts_query(const hh_query_terms_t *q, char **out)
{
    hh_strbuf_t b = { 0 };
    for (size_t i = 0; i < q->n; i++) {
        if (i)
            hh_strbuf_add(&b, " OR ", 4);
        hh_strbuf_add(&b, "\"", 1);
        for (const char *c = q->t[i].term; *c; c++)
            hh_strbuf_add(&b, c, *c == '"' ? 0 : 1);   /* terms hold word characters only */
        hh_strbuf_add(&b, "\"", 1);
    }
    if (b.oom) {
        free(b.p);
        return HH_ENOMEM;
    }
    *out = b.p ? b.p : strdup("");
    return *out ? 0 : HH_ENOMEM;
}

static int fts_query(const char *text, char **out)
{
    *out = NULL;
    size_t len = text ? strlen(text) : 0;
    /* Each word becomes "word" (a word never holds '"', but quotes are
     * doubled anyway so the rule does not depend on the word splitter). */
    size_t cap = 1, n_words = 0, pos = 0, st, wl;
    while (n_words < MAX_FTS_WORDS && hh_kb_word_next(text, len, &pos, &st, &wl)) {
        cap += 2 * wl + 2 + 4;
        n_words++;
    }
    char *q = malloc(cap);
    if (!q)
        return HH_ENOMEM;
    size_t o = 0;
    size_t *starts = calloc(n_words + 1, sizeof *starts), *lens = calloc(n_words + 1, sizeof *lens);
    if (!starts || !lens) {
        free(q);
        free(starts);
        free(lens);
        return HH_ENOMEM;
    }
    size_t kept = 0;
    pos = 0;
    for (size_t w = 0; w < n_words && hh_kb_word_next(text, len, &pos, &st, &wl); w++) {
        bool dup = false;
        for (size_t k = 0; k < kept && !dup; k++)
            dup = lens[k] == wl && memcmp(text + starts[k], text + st, wl) == 0;
        if (dup)
            continue;
        starts[kept] = st;
        lens[kept++] = wl;
        if (o) {
            memcpy(q + o, " OR ", 4);
            o += 4;
        }
        q[o++] = '"';
        for (size_t i = 0; i < wl; i++) {
            if (text[st + i] == '"')
                q[o++] = '"';
            q[o++] = text[st + i];
        }
        q[o++] = '"';
    }
    q[o] = '\0';
    free(starts);
    free(lens);
    *out = q;
    return 0;
}

/* ---- access: the readable collection ids, as a JSON array to bind ------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The collections of this search: the user's readable ones, narrowed to
 * q->collections when given. *json is a malloc'd JSON array of ids. */
static int allowed_collections(hh_store_t *s, const hh_kb_query_t *q, char **json, size_t *n_allowed,
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

/* ---- lists -------------------------------------------------------------- */

typedef struct cand {
    int64_t id;
    double  bm25;
    double  dense;
    int32_t bm25_rank, dense_rank;
    double  score;
} cand_t;

/* The access filter: the allowed chunk ids, sorted (see "the access
 * filter" below). A sorted list, not a bitmap over the id range: chunk ids
 * are random in [1, 2^53) (store_int.h), so their range spans everything. */
typedef struct acl_set acl_set_t;
struct acl_set {
    int64_t  *ids;      /* (n_ids) ascending, unique; owned */
    int32_t  *lens;     /* (n_ids) each one's FTS5 length, all columns; owned */
    size_t    n_ids;    /* allowed chunks */
    int64_t   n_tokens; /* their FTS5 tokens, all columns (BM25's lengths) */
};

static char *col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

/* FTS5's bm25() constants (fts5_aux.c), kept so scores read as before. */
#define BM25_K1 1.2
#define BM25_B  0.75

typedef struct bm25_row {
    int64_t id;
    double  score;
} bm25_row_t;

static int cmp_bm25_row(const void *a, const void *b)
{
    const bm25_row_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The weight of query term p: its own, doubled (at most 1) for an
 * expansion whose question word no readable chunk holds (df of each of
 * its stems 0): the compound parts, synonyms and translations of a word
 * the documents never use are all that can stand for it. */
static double hh_kb_backoff_weight(const hh_query_terms_t *qt, size_t p, const int64_t *df)
{
    double w = qt->t[p].weight;
    if (qt->t[p].kind == HH_AN_EXACT)
        return w;
    for (size_t e = 0; e < qt->n; e++)
        if (qt->t[e].kind == HH_AN_EXACT && qt->t[e].group == qt->t[p].group && df[e] > 0)
            return w;
    return w * 2 > 1 ? 1 : w * 2;
}

/* BM25: chunks matching fts that the access set allows, best first.
 * The set test is part of the WHERE clause: a disallowed chunk is never
 * ranked, nor counted. Every matching allowed chunk comes back with its
 * length and per-phrase counts (hh_kb_tf); the statistics are those of the
 * allowed chunks: N = acl->n_ids, average length acl->n_tokens / N, and a
 * phrase's document frequency = the matching allowed chunks holding it.
 * Scores are FTS5's bm25() formula (with its IDF floor of 1e-6), sign
 * flipped (higher = better); ties go to the lower chunk id. */
static ptrdiff_t acl_find(const acl_set_t *a, int64_t id);

static int bm25_list(hh_store_t *s, const char *fts, const hh_query_terms_t *qt, const acl_set_t *acl, int32_t depth,
                     cand_t **out, size_t *n, hh_err_t *err)
{
    static const char sql[] =
        "SELECT rowid, hh_kb_tf(chunks_terms) FROM chunks_terms"
        " WHERE chunks_terms MATCH ?1 AND hh_kb_allowed(rowid, ?2)";
    *out = NULL;
    *n = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    bm25_row_t *rows = NULL;
    int32_t *tf = NULL;          /* (n_rows, 1 + n_phr): length, then counts */
    int64_t *df = NULL;
    double *idf = NULL;
    size_t n_rows = 0, cap = 0, n_phr = 0;
    cand_t *v = NULL;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "bm25 prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, fts, -1, SQLITE_STATIC);
    sqlite3_bind_pointer(st, 2, (void *)acl, "hh_kb_acl", NULL);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const int32_t *blob = sqlite3_column_blob(st, 1);
        size_t bytes = (size_t)sqlite3_column_bytes(st, 1);
        if (!blob || bytes < 2 * sizeof(int32_t) || bytes % sizeof(int32_t)) {
            rc = hh_err_set(err, HH_EIO, -1, "bm25: bad term counts from the index");
            goto cleanup;
        }
        size_t np = bytes / sizeof(int32_t) - 1;
        if (n_rows == 0)
            n_phr = np;
        else if (np != n_phr) {
            rc = hh_err_set(err, HH_EIO, -1, "bm25: phrase count changed within one query");
            goto cleanup;
        }
        if (n_rows == cap) {
            size_t nc = cap ? cap * 2 : 256;
            bm25_row_t *nr = realloc(rows, nc * sizeof *nr);
            if (nr)
                rows = nr;
            int32_t *nt = nr ? realloc(tf, nc * (1 + n_phr) * sizeof *nt) : NULL;
            if (!nt) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                goto cleanup;
            }
            tf = nt;
            cap = nc;
        }
        rows[n_rows].id = sqlite3_column_int64(st, 0);
        memcpy(tf + n_rows * (1 + n_phr), blob, bytes);
        /* the length from the access set (read with it from the index's
         * per-row sizes): FTS5's own lookup costs a query per matching row */
        ptrdiff_t at = acl_find(acl, rows[n_rows].id);
        if (at < 0) {
            rc = hh_err_set(err, HH_EIO, -1, "bm25: a match outside the access set");
            goto cleanup;
        }
        tf[n_rows * (1 + n_phr)] = acl->lens[at];
        n_rows++;
    }
    if (step != SQLITE_DONE) {
        rc = hh_store_db_fail(s, err, "bm25 search");
        goto cleanup;
    }
    if (n_rows == 0)
        goto cleanup;
    df = calloc(n_phr + 1, sizeof *df);
    idf = calloc(n_phr + 1, sizeof *idf);
    if (!df || !idf) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    for (size_t r = 0; r < n_rows; r++)
        for (size_t p = 0; p < n_phr; p++)
            df[p] += tf[r * (1 + n_phr) + 1 + p] > 0;
    /* N and the lengths are of the allowed chunks; every allowed chunk is
     * in the index (the insert trigger), so N >= any df. */
    double N = (double)acl->n_ids;
    double avgdl = acl->n_ids && acl->n_tokens > 0 ? (double)acl->n_tokens / N : 1.0;
    if (n_phr != qt->n) {
        rc = hh_err_set(err, HH_EIO, -1, "bm25: %zu phrases for %zu query terms", n_phr, qt->n);
        goto cleanup;
    }
    for (size_t p = 0; p < n_phr; p++) {
        idf[p] = log((N - (double)df[p] + 0.5) / ((double)df[p] + 0.5));
        if (idf[p] <= 0.0)
            idf[p] = 1e-6;
    }
    /* an expansion (part, synonym, translation) weighs at most what its
     * question word weighs: its IDF is capped at the word's own stems' */
    for (size_t p = 0; p < n_phr; p++) {
        if (qt->t[p].kind == HH_AN_EXACT)
            continue;
        double lim = -1;
        for (size_t e = 0; e < n_phr; e++)
            if (qt->t[e].kind == HH_AN_EXACT && qt->t[e].group == qt->t[p].group && idf[e] > lim)
                lim = idf[e];
        if (lim >= 0 && idf[p] > lim)
            idf[p] = lim;
    }
    for (size_t p = 0; p < n_phr; p++)
        idf[p] *= hh_kb_backoff_weight(qt, p, df);
    /* the best `depth` rows, kept in rows[0..k) as a heap whose root is
     * the worst kept (sorting every match cost more than the scoring) */
    size_t k = 0, want = n_rows < (size_t)depth ? n_rows : (size_t)depth;
    for (size_t r = 0; r < n_rows; r++) {
        const int32_t *t = tf + r * (1 + n_phr);
        double dl = (double)t[0], score = 0;
        for (size_t p = 0; p < n_phr; p++) {
            double f = (double)t[1 + p];
            score += idf[p] * (f * (BM25_K1 + 1.0)) / (f + BM25_K1 * (1.0 - BM25_B + BM25_B * dl / avgdl));
        }
        bm25_row_t x = { rows[r].id, score };
        if (k == want && cmp_bm25_row(&x, &rows[0]) >= 0)
            continue;   /* not better than the worst kept */
        size_t i;
        if (k < want) {   /* sift up from the end */
            i = k++;
            while (i > 0 && cmp_bm25_row(&rows[(i - 1) / 2], &x) < 0) {
                rows[i] = rows[(i - 1) / 2];
                i = (i - 1) / 2;
            }
        } else {          /* replace the root, sift down */
            i = 0;
            for (;;) {
                size_t c = 2 * i + 1;
                if (c >= k)
                    break;
                if (c + 1 < k && cmp_bm25_row(&rows[c + 1], &rows[c]) > 0)
                    c++;
                if (cmp_bm25_row(&rows[c], &x) <= 0)
                    break;
                rows[i] = rows[c];
                i = c;
            }
        }
        rows[i] = x;
    }
    qsort(rows, k, sizeof *rows, cmp_bm25_row);
    if (!(v = calloc(k, sizeof *v))) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < k; i++) {
        v[i].id = rows[i].id;
        v[i].bm25 = rows[i].score;
        v[i].bm25_rank = (int32_t)(i + 1);
    }
    *n = k;
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    free(rows);
    free(tf);
    free(df);
    free(idf);
    if (rc)
        free(v);
    else
        *out = v;
    return rc;
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
static int allowed_chunks(hh_store_t *s, const char *coll_json, acl_set_t *out, hh_err_t *err)
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
static ptrdiff_t acl_find(const acl_set_t *a, int64_t id)
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
static bool acl_has(const acl_set_t *a, int64_t id)
{
    return acl_find(a, id) >= 0;
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
    acl_set_t        b;
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

static void acl_set_free(acl_set_t *b)
{
    free(b->ids);
    free(b->lens);
    memset(b, 0, sizeof *b);
}

static void acl_entry_free(acl_entry_t *e)
{
    acl_set_free(&e->b);
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
    const acl_set_t *b = sqlite3_value_pointer(argv[1], "hh_kb_acl");
    int64_t id = sqlite3_value_int64(argv[0]);
    sqlite3_result_int(ctx, b && acl_has(b, id));
}

/* ---- hh_kb_tf: an FTS5 auxiliary function --------------------------------
 * The system SQLite ships no fts5.h, so the two FTS5 interface tables this
 * file calls are declared here: only their leading members, in SQLite's
 * order (the layout is SQLite's stable ABI; an interface only ever grows at
 * its end, and iVersion is checked before use). */
typedef struct fts5_ctx fts5_ctx_t;   /* Fts5Context, opaque */
typedef struct fts5_ext fts5_ext_t;
struct fts5_ext {                     /* Fts5ExtensionApi, up to xColumnSize */
    int iVersion;
    void *(*user_data)(fts5_ctx_t *);
    int (*column_count)(fts5_ctx_t *);
    int (*row_count)(fts5_ctx_t *, sqlite3_int64 *);
    int (*column_total_size)(fts5_ctx_t *, int, sqlite3_int64 *);
    int (*tokenize)(fts5_ctx_t *, const char *, int, void *, int (*)(void *, int, const char *, int, int, int));
    int (*phrase_count)(fts5_ctx_t *);
    int (*phrase_size)(fts5_ctx_t *, int);
    int (*inst_count)(fts5_ctx_t *, int *);
    int (*inst)(fts5_ctx_t *, int, int *, int *, int *);
    sqlite3_int64 (*rowid)(fts5_ctx_t *);
    int (*column_text)(fts5_ctx_t *, int, const char **, int *);
    int (*column_size)(fts5_ctx_t *, int, int *);
};
typedef void (*fts5_aux_fn)(const fts5_ext_t *, fts5_ctx_t *, sqlite3_context *, int, sqlite3_value **);
typedef struct fts5_api_s {           /* fts5_api, up to xCreateFunction */
    int iVersion;
    void *create_tokenizer;
    void *find_tokenizer;
    int (*create_function)(struct fts5_api_s *, const char *, void *, fts5_aux_fn, void (*)(void *));
} fts5_api_t;

/* hh_kb_tf(chunks_fts) -> blob of int32: 0 (room for the row's length,
 * which bm25_list takes from the access set: FTS5's xColumnSize would run
 * a query on the docsize table per row), then per query phrase its
 * instances in the row (all columns, weight 1 as in bm25()). Phrases are
 * capped by the query builder (MAX_FTS_WORDS), so the blob is small. */
static void fts5_tf(const fts5_ext_t *api, fts5_ctx_t *fc, sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    int n_phr = api->phrase_count(fc), n_inst = 0;
    if (n_phr < 0 || n_phr > 4 * MAX_FTS_WORDS) {
        sqlite3_result_error(ctx, "hh_kb_tf: too many phrases", -1);
        return;
    }
    int32_t *v = sqlite3_malloc((int)((size_t)(1 + n_phr) * sizeof *v));
    if (!v) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    memset(v, 0, (size_t)(1 + n_phr) * sizeof *v);
    int rc = api->inst_count(fc, &n_inst);
    for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
        int phr, col, off;
        rc = api->inst(fc, i, &phr, &col, &off);
        if (rc == SQLITE_OK && phr >= 0 && phr < n_phr)
            v[1 + phr]++;
    }
    if (rc != SQLITE_OK) {
        sqlite3_free(v);
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    sqlite3_result_blob(ctx, v, (int)((size_t)(1 + n_phr) * sizeof *v), sqlite3_free);
}

/* Registers hh_kb_tf on db's FTS5. */
static int fts5_register_tf(sqlite3 *db)
{
    fts5_api_t *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return SQLITE_ERROR;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (!api || api->iVersion < 2)
        return SQLITE_ERROR;
    return api->create_function(api, "hh_kb_tf", NULL, fts5_tf, NULL);
}

static int acl_copy(const acl_set_t *from, acl_set_t *to)
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
 * acl_set_free); registers hh_kb_allowed on the connection. Takes s->mu. */
static int acl_get(hh_store_t *s, const char *coll_json, acl_set_t *out, hh_err_t *err)
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
        if (fts5_register_tf(db) != SQLITE_OK) {
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
        acl_set_free(out);
    return rc;
}

static int dense_list(hh_vindex_t *ix, const hh_kb_embedder_t *em, const char *text, const acl_set_t *acl,
                      int32_t depth, cand_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (em->dim != hh_vindex_dim(ix))
        return hh_err_set(err, HH_EINVAL, -1, "embedding width %d does not match the vector index (%d)", em->dim,
                          hh_vindex_dim(ix));
    float *qv = malloc((size_t)em->dim * sizeof *qv);
    int64_t *ids = calloc((size_t)depth, sizeof *ids);
    float *scores = calloc((size_t)depth, sizeof *scores);
    cand_t *v = calloc((size_t)depth, sizeof *v);
    int rc = 0;
    if (!qv || !ids || !scores || !v) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    rc = em->embed(em->user, text, qv, err);
    if (rc)
        goto cleanup;
    if (acl->n_ids == 0)
        goto cleanup;
    hh_vindex_filter_t f;
    memset(&f, 0, sizeof f);
    f.kind = HH_VINDEX_FILTER_IDS;
    f.ids = acl->ids;
    f.n_ids = acl->n_ids;
    /* scoped: which readable chunks come back must not depend on the
     * vectors of collections the user cannot read (docs/SECURITY.md) */
    hh_vindex_search_opts_t so = { .mode = HH_VINDEX_SCOPED };
    int found = 0;
    rc = hh_vindex_search_ex(ix, qv, depth, &f, &so, ids, scores, &found);
    if (rc) {
        hh_err_set(err, rc, -1, "vector search failed");
        goto cleanup;
    }
    for (int i = 0; i < found; i++) {
        v[i].id = ids[i];
        v[i].dense = scores[i];
        v[i].dense_rank = i + 1;
    }
    *n = (size_t)found;
cleanup:
    free(qv);
    free(ids);
    free(scores);
    if (rc || *n == 0) {
        free(v);
        *n = 0;
    } else {
        *out = v;
    }
    return rc;
}

/* ---- fusion and loading ------------------------------------------------- */

static int cmp_cand(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    int32_t rx = x->bm25_rank ? x->bm25_rank : INT32_MAX, ry = y->bm25_rank ? y->bm25_rank : INT32_MAX;
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Fills a hit's document fields and *terms (the chunk's index terms,
 * malloc'd); the ACL condition is repeated so a chunk outside the allowed
 * collections can never be loaded. HH_ENOENT if gone. */
static int load_hit(hh_store_t *s, sqlite3_stmt *st, int64_t id, hh_kb_hit_t *h, char **terms, hh_err_t *err)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        return HH_ENOENT;
    if (step != SQLITE_ROW)
        return hh_store_db_fail(s, err, "load chunk");
    h->chunk_id = id;
    h->document_id = sqlite3_column_int64(st, 0);
    h->collection_id = sqlite3_column_int64(st, 1);
    h->title = col_dup(st, 2);
    h->heading_path = col_dup(st, 3);
    h->page = sqlite3_column_int(st, 4);
    h->text = col_dup(st, 5);
    *terms = col_dup(st, 6);
    if (!h->title || !h->heading_path || !h->text || !*terms)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    return 0;
}

/* ---- the chunk analysis ---------------------------------------------------- */

int hh_kb_chunk_terms(hh_analyzer_t *a, const char *text, const char *heading_path, const char **lang,
                      char **terms, hh_err_t *err)
{
    *terms = NULL;
    size_t tl = text ? strlen(text) : 0, hl = heading_path ? strlen(heading_path) : 0;
    hh_lang_t lg = hh_lang_detect(text ? text : "", tl);
    *lang = hh_lang_code(lg);
    char *ht = NULL, *tt = NULL;
    int rc = hh_analyzer_index_terms(a, heading_path, hl, lg, &ht, err);
    if (!rc)
        rc = hh_analyzer_index_terms(a, text, tl, lg, &tt, err);
    if (!rc) {
        size_t a1 = strlen(ht), a2 = strlen(tt);
        char *t = malloc(a1 + a2 + 2);
        if (!t) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        } else {
            memcpy(t, ht, a1);
            size_t o = a1;
            if (a1 && a2)
                t[o++] = ' ';
            memcpy(t + o, tt, a2);
            t[o + a2] = '\0';
            *terms = t;
        }
    }
    free(ht);
    free(tt);
    return rc;
}

#define FILL_BATCH 256

int hh_kb_index_fill(hh_store_t *s, hh_analyzer_t *a, size_t *n_done, hh_err_t *err)
{
    if (n_done)
        *n_done = 0;
    int level = hh_analyzer_level(a), rc = 0;
    for (;;) {
        hh_store_chunk_text_t *v = NULL;
        size_t n = 0;
        if ((rc = hh_store_chunks_to_analyze(s, level, FILL_BATCH, &v, &n, err)) || n == 0)
            return rc;
        hh_store_chunk_terms_t *t = calloc(n, sizeof *t);
        char **owned = calloc(n, sizeof *owned);
        if (!t || !owned)
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        for (size_t i = 0; i < n && !rc; i++) {
            t[i].id = v[i].id;
            rc = hh_kb_chunk_terms(a, v[i].text, v[i].heading_path, &t[i].lang, &owned[i], err);
            t[i].terms = owned[i];
        }
        if (!rc)
            rc = hh_store_chunks_set_terms(s, t, n, level, err);
        for (size_t i = 0; owned && i < n; i++)
            free(owned[i]);
        free(owned);
        free(t);
        hh_store_chunk_texts_free(v, n);
        if (rc)
            return rc;
        if (n_done)
            *n_done += n;
        if (n < FILL_BATCH)
            return 0;
    }
}

/* ---- reranking --------------------------------------------------------------- */

/* The question's terms by hash (term -> index into qt->t). */
#define QMAP_SLOTS 256
typedef struct qmap {
    int16_t slot[QMAP_SLOTS];   /* term index + 1; 0 = empty */
} qmap_t;

static uint32_t term_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void qmap_build(qmap_t *m, const hh_query_terms_t *qt)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < qt->n && i < QMAP_SLOTS / 2; i++) {
        const char *t = qt->t[i].term;
        uint32_t j = term_hash(t, strlen(t)) & (QMAP_SLOTS - 1);
        while (m->slot[j])
            j = (j + 1) & (QMAP_SLOTS - 1);
        m->slot[j] = (int16_t)(i + 1);
    }
}

static int qmap_get(const qmap_t *m, const hh_query_terms_t *qt, const char *t, size_t n)
{
    uint32_t j = term_hash(t, n) & (QMAP_SLOTS - 1);
    while (m->slot[j]) {
        const char *q = qt->t[m->slot[j] - 1].term;
        if (!strncmp(q, t, n) && q[n] == '\0')
            return m->slot[j] - 1;
        j = (j + 1) & (QMAP_SLOTS - 1);
    }
    return -1;
}

#define RR_MAX_GROUPS HH_AN_MAX_WORDS
#define RR_MAX_POS    4096   /* matched positions looked at per chunk */

/* Marks in found[g] the question words (qt->words, lowercased) that occur
 * as words of text: one pass over the text; ASCII letters are lowercased
 * on the fly, a word with other bytes is lowercased through utf8proc. */
static void exact_words(const char *text, const hh_query_terms_t *qt, int32_t ng, bool *found)
{
    size_t len = strlen(text), pos = 0, st, wl;
    size_t wlen[RR_MAX_GROUPS];
    for (int32_t g = 0; g < ng; g++)
        wlen[g] = strlen(qt->words[g]);
    char low[72];
    while (hh_kb_word_next(text, len, &pos, &st, &wl)) {
        if (wl >= sizeof low - 4)
            continue;
        size_t k = 0;
        bool ascii = true;
        for (size_t i = 0; i < wl; i++) {
            char c = text[st + i];
            ascii &= (unsigned char)c < 0x80;
            low[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (!ascii) {
            k = 0;
            for (size_t b = 0; b < wl && k + 4 < sizeof low;) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)text + st + b,
                                                      (utf8proc_ssize_t)(wl - b), &cp);
                if (r <= 0)
                    break;
                b += (size_t)r;
                k += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)low + k);
            }
        }
        for (int32_t g = 0; g < ng; g++)
            if (!found[g] && wlen[g] == k && !memcmp(low, qt->words[g], k))
                found[g] = true;
    }
}

/* The second-stage score of one candidate (see retrieve.h "Reranking"). */
static double rerank_score(const hh_kb_hit_t *h, const char *terms, const char *heading_terms,
                           const hh_query_terms_t *qt, const qmap_t *qm, double base)
{
    int32_t ng = qt->n_groups < RR_MAX_GROUPS ? qt->n_groups : RR_MAX_GROUPS;
    if (ng <= 0)
        return HH_KB_RR_BASE * base;
    float best[RR_MAX_GROUPS] = { 0 };
    bool in_head[RR_MAX_GROUPS] = { false };
    /* positions of matched terms, with their group */
    static const int32_t none = -1;
    int32_t pos_g[RR_MAX_POS];
    int32_t pos_i[RR_MAX_POS];
    size_t np = 0;
    int32_t idx = 0;
    for (const char *p = terms; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) {
            int t = qmap_get(qm, qt, p, (size_t)(e - p));
            if (t >= 0 && qt->t[t].group < ng) {
                int32_t g = qt->t[t].group;
                if (qt->t[t].weight > best[g])
                    best[g] = qt->t[t].weight;
                if (np < RR_MAX_POS) {
                    pos_g[np] = g;
                    pos_i[np++] = idx;
                }
            }
            idx++;
        }
        p = e;
    }
    for (const char *p = heading_terms; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        int t = e > p ? qmap_get(qm, qt, p, (size_t)(e - p)) : none;
        if (t >= 0 && qt->t[t].group < ng)
            in_head[qt->t[t].group] = true;
        p = e;
    }
    double cover = 0, exact = 0, head = 0;
    int32_t matched = 0;
    bool found[RR_MAX_GROUPS] = { false };
    exact_words(h->text, qt, ng, found);
    exact_words(h->heading_path, qt, ng, found);
    for (int32_t g = 0; g < ng; g++) {
        cover += best[g];
        matched += best[g] > 0;
        head += in_head[g];
        exact += best[g] > 0 && found[g];
    }
    /* proximity: the shortest window of positions that holds every matched
     * group (sliding window over the match positions, in order) */
    double prox = 0;
    if (matched >= 2) {
        int32_t cnt[RR_MAX_GROUPS] = { 0 }, have = 0, bestw = INT32_MAX;
        size_t lo = 0;
        for (size_t hi = 0; hi < np; hi++) {
            if (cnt[pos_g[hi]]++ == 0)
                have++;
            while (have == matched) {
                int32_t w = pos_i[hi] - pos_i[lo] + 1;
                if (w < bestw)
                    bestw = w;
                if (--cnt[pos_g[lo]] == 0)
                    have--;
                lo++;
            }
        }
        if (bestw != INT32_MAX)
            prox = (double)matched / (double)(bestw > matched ? bestw : matched);
    }
    /* phrases: question words g, g+1 (both matched) within 2 terms, in order */
    double phrase = 0;
    for (int32_t g = 0; g + 1 < ng; g++) {
        if (!(best[g] > 0 && best[g + 1] > 0))
            continue;
        bool near = false;
        for (size_t i = 0; i < np && !near; i++)
            if (pos_g[i] == g)
                for (size_t j = i + 1; j < np && pos_i[j] <= pos_i[i] + 2 && !near; j++)
                    near = pos_g[j] == g + 1;
        phrase += near;
    }
    return HH_KB_RR_BASE * base + HH_KB_RR_COVER * cover / ng + HH_KB_RR_EXACT * exact / ng +
           HH_KB_RR_PROX * prox + HH_KB_RR_PHRASE * (ng > 1 ? phrase / (ng - 1) : 0) + HH_KB_RR_HEADING * head / ng;
}

typedef struct rr_item {
    hh_kb_hit_t hit;
    double      score;
    size_t      order;   /* first-stage rank: ties keep it */
} rr_item_t;

static int cmp_rr(const void *a, const void *b)
{
    const rr_item_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int hh_kb_retrieve_mode(hh_store_t *store, hh_vindex_t *vindex, const hh_kb_embedder_t *embedder,
                        const hh_kb_query_t *q, hh_kb_mode_t mode, hh_kb_hit_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    if (!store || !q || !q->text || !q->user)
        return hh_err_set(err, HH_EINVAL, -1, "retrieve: missing store, user or query text");
    if (q->k < 1 || q->k > HH_KB_MAX_K)
        return hh_err_set(err, HH_EINVAL, -1, "retrieve: k must be 1..%d (got %d)", HH_KB_MAX_K, q->k);
    bool dense_ok = vindex && embedder && embedder->embed && embedder->dim > 0;
    if (mode == HH_KB_DENSE_ONLY && !dense_ok)
        return hh_err_set(err, HH_EINVAL, -1, "retrieve: dense search needs an embedding model and a vector index");
    int32_t depth = q->depth > 0 ? q->depth : (4 * q->k > 50 ? 4 * q->k : 50);
    if (depth < q->k)
        depth = q->k;
    if (depth > MAX_DEPTH)
        depth = MAX_DEPTH;

    char *coll = NULL, *fts = NULL;
    cand_t *bl = NULL, *dl = NULL, *all = NULL;
    size_t nb = 0, nd = 0, n_allowed = 0;
    rr_item_t *items = NULL;
    char **terms = NULL;
    size_t ni = 0;
    hh_kb_hit_t *hits = NULL;
    size_t nh = 0;
    sqlite3_stmt *st = NULL;
    bool locked = false;
    acl_set_t acl = { 0 };
    hh_query_terms_t qt = { 0 };
    int rc = allowed_collections(store, q, &coll, &n_allowed, err);
    if (rc || n_allowed == 0)
        goto cleanup;
    /* chunks not analyzed yet (a store from before migration 14, rewritten
     * chunks): analyzed now, so that none is missing from the index */
    if ((rc = hh_kb_index_fill(store, q->analyzer, NULL, err)))
        goto cleanup;
    if ((rc = acl_get(store, coll, &acl, err)))
        goto cleanup;
    if ((rc = hh_analyzer_query_terms(q->analyzer, q->text, &qt, err)))
        goto cleanup;
    int32_t lists = 0;
    if (mode != HH_KB_DENSE_ONLY) {
        lists++;
        if (terms_fts_query(&qt, &fts)) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
            goto cleanup;
        }
        if (fts[0]) {
            rc = bm25_list(store, fts, &qt, &acl, depth, &bl, &nb, err);
            if (rc)
                goto cleanup;
        }
    }
    if (mode != HH_KB_BM25_ONLY && dense_ok) {
        lists++;
        rc = dense_list(vindex, embedder, q->text, &acl, depth, &dl, &nd, err);
        if (rc)
            goto cleanup;
    }
    /* reciprocal rank fusion */
    all = calloc(nb + nd + 1, sizeof *all);
    if (!all) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    size_t na = 0;
    for (size_t i = 0; i < nb; i++) {
        all[na] = bl[i];
        all[na++].score = 1.0 / (HH_KB_RRF_K + bl[i].bm25_rank);
    }
    for (size_t i = 0; i < nd; i++) {
        size_t j = 0;
        while (j < na && all[j].id != dl[i].id)
            j++;
        if (j == na) {
            all[na] = dl[i];
            all[na++].score = 0;
        } else {
            all[j].dense = dl[i].dense;
            all[j].dense_rank = dl[i].dense_rank;
        }
        all[j].score += 1.0 / (HH_KB_RRF_K + dl[i].dense_rank);
    }
    qsort(all, na, sizeof *all, cmp_cand);
    /* the candidates: k, or the first HH_KB_RERANK_DEPTH to rerank */
    size_t want = na < (size_t)q->k ? na : (size_t)q->k;
    size_t depth_rr = q->no_rerank ? want : (size_t)(q->k > HH_KB_RERANK_DEPTH ? q->k : HH_KB_RERANK_DEPTH);
    if (depth_rr > na)
        depth_rr = na;
    items = calloc(depth_rr + 1, sizeof *items);
    terms = calloc(depth_rr + 1, sizeof *terms);
    if (!items || !terms) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    static const char sql[] =
        "SELECT c.document_id, d.collection_id, d.title, c.heading_path, c.page, c.text, c.terms"
        " FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE c.id = ?1 AND d.collection_id IN (SELECT value FROM json_each(?2))";
    pthread_mutex_lock(&store->mu);
    locked = true;
    if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(store, err, "load prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    for (size_t i = 0; i < na && ni < depth_rr; i++) {
        hh_kb_hit_t *h = &items[ni].hit;
        int r = load_hit(store, st, all[i].id, h, &terms[ni], err);
        if (r == HH_ENOENT)
            continue;   /* deleted meanwhile, or a stale vector outside the filter */
        ni++;           /* counted before the check so a partial hit is freed */
        if (r) {
            rc = r;
            goto cleanup;
        }
        h->bm25 = all[i].bm25;
        h->bm25_rank = all[i].bm25_rank;
        h->dense = all[i].dense;
        h->dense_rank = all[i].dense_rank;
        h->score = all[i].score;
        h->n_lists = lists;
        items[ni - 1].score = all[i].score;
        items[ni - 1].order = ni - 1;
    }
    sqlite3_finalize(st);
    st = NULL;
    pthread_mutex_unlock(&store->mu);
    locked = false;
    if (!q->no_rerank && ni > 1 && qt.n) {
        qmap_t qm;
        qmap_build(&qm, &qt);
        double top = items[0].score > 0 ? items[0].score : 1;
        for (size_t i = 0; i < ni; i++) {
            char *ht = NULL;
            const char *hp = items[i].hit.heading_path;
            if ((rc = hh_analyzer_index_terms(q->analyzer, hp, strlen(hp), HH_LANG_UNKNOWN, &ht, err)))
                goto cleanup;
            items[i].score = rerank_score(&items[i].hit, terms[i], ht, &qt, &qm, items[i].score / top);
            items[i].hit.rerank = items[i].score;
            free(ht);
        }
        qsort(items, ni, sizeof *items, cmp_rr);
    }
    nh = ni < want ? ni : want;
    hits = calloc(nh + 1, sizeof *hits);
    if (!hits) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        nh = 0;
        goto cleanup;
    }
    for (size_t i = 0; i < nh; i++) {
        hits[i] = items[i].hit;
        memset(&items[i].hit, 0, sizeof items[i].hit);
    }
cleanup:
    sqlite3_finalize(st);
    if (locked)
        pthread_mutex_unlock(&store->mu);
    acl_set_free(&acl);
    hh_query_terms_free(&qt);
    free(coll);
    free(fts);
    free(bl);
    free(dl);
    free(all);
    for (size_t i = 0; items && i < ni; i++) {
        free(items[i].hit.title);
        free(items[i].hit.heading_path);
        free(items[i].hit.text);
        free(terms[i]);
    }
    free(items);
    free(terms);
    if (rc) {
        hh_kb_hits_free(hits, nh);
        return rc;
    }
    if (nh == 0) {
        free(hits);
        hits = NULL;
    }
    *out = hits;
    *n = nh;
    return 0;
}

int hh_kb_retrieve(hh_store_t *store, hh_vindex_t *vindex, const hh_kb_embedder_t *embedder,
                   const hh_kb_query_t *q, hh_kb_hit_t **out, size_t *n, hh_err_t *err)
{
    return hh_kb_retrieve_mode(store, vindex, embedder, q, HH_KB_HYBRID, out, n, err);
}

/* ---- the vector index of stored vectors --------------------------------- */

int hh_kb_vectors_tag(hh_store_t *s, const char *model, uint64_t *tag, size_t *n_vectors, hh_err_t *err)
{
    static const char sql[] =
        "SELECT count(*), coalesce(sum(chunk_id & 4294967295), 0), coalesce(sum(chunk_id >> 32), 0),"
        " coalesce(max(chunk_id), 0), coalesce(sum(dim), 0) FROM chunk_vectors WHERE model = ?1";
    *tag = 0;
    if (n_vectors)
        *n_vectors = 0;
    if (!s || !model)
        return hh_err_set(err, HH_EINVAL, -1, "vectors tag: missing store or model");
    sqlite3_stmt *st = NULL;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "vectors tag prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = hh_store_db_fail(s, err, "vectors tag");
        goto cleanup;
    }
    /* the sum of the ids modulo 2^64 from its two 32-bit halves: a plain
     * sum() fails with "integer overflow" once ids are random up to 2^53
     * (store_int.h); for ids below 2^32 the tag is the one it always was */
    uint64_t v[4];
    v[0] = (uint64_t)sqlite3_column_int64(st, 0);
    v[1] = (uint64_t)sqlite3_column_int64(st, 1) + ((uint64_t)sqlite3_column_int64(st, 2) << 32);
    v[2] = (uint64_t)sqlite3_column_int64(st, 3);
    v[3] = (uint64_t)sqlite3_column_int64(st, 4);
    /* FNV-1a over the four numbers' bytes */
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++) {
            h ^= (v[i] >> (8 * b)) & 0xff;
            h *= 0x100000001b3ull;
        }
    *tag = h;
    if (n_vectors)
        *n_vectors = (size_t)v[0];
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int hh_kb_vindex_fill(hh_store_t *s, const char *model, int64_t doc_id, hh_vindex_t *ix, size_t *n_added,
                      hh_err_t *err)
{
    static const char sql_all[] = "SELECT chunk_id, dim, vec FROM chunk_vectors WHERE model = ?1 ORDER BY chunk_id";
    static const char sql_doc[] =
        "SELECT v.chunk_id, v.dim, v.vec FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id"
        " WHERE v.model = ?1 AND c.document_id = ?2 ORDER BY v.chunk_id";
    if (n_added)
        *n_added = 0;
    if (!s || !model || !ix)
        return hh_err_set(err, HH_EINVAL, -1, "vindex fill: missing store, model or index");
    const int dim = hh_vindex_dim(ix);
    float *vec = malloc((size_t)dim * sizeof *vec);
    if (!vec)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    sqlite3_stmt *st = NULL;
    size_t added = 0;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, doc_id ? sql_doc : sql_all, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "vindex fill prepare");
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (doc_id)
        sqlite3_bind_int64(st, 2, doc_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const void *blob = sqlite3_column_blob(st, 2);
        int bytes = sqlite3_column_bytes(st, 2);
        if (sqlite3_column_int(st, 1) != dim || !blob || bytes != dim * (int)sizeof(float))
            continue;
        memcpy(vec, blob, (size_t)bytes);   /* stored little-endian: the host order here */
        int r = hh_vindex_add(ix, id, vec);
        if (r == HH_EINVAL)
            continue;   /* a non-finite stored vector is skipped, never searched */
        if (r) {
            rc = hh_err_set(err, r, -1, "vindex fill: cannot add chunk %lld", (long long)id);
            goto cleanup;
        }
        added++;
    }
    if (step != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "vindex fill");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    free(vec);
    if (n_added)
        *n_added = added;
    return rc;
}

int hh_kb_doc_chunk_ids(hh_store_t *s, int64_t doc_id, int64_t **ids, size_t *n, hh_err_t *err)
{
    static const char sql[] = "SELECT id FROM chunks WHERE document_id = ?1 ORDER BY ord";
    *ids = NULL;
    *n = 0;
    int64_t *v = NULL;
    size_t nv = 0, cap = 0;
    int rc = 0;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->mu);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = hh_store_db_fail(s, err, "doc chunk ids prepare");
        goto cleanup;
    }
    sqlite3_bind_int64(st, 1, doc_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (nv == cap) {
            size_t nc = cap ? cap * 2 : 64;
            int64_t *np = realloc(v, nc * sizeof *np);
            if (!np) {
                rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
                goto cleanup;
            }
            v = np;
            cap = nc;
        }
        v[nv++] = sqlite3_column_int64(st, 0);
    }
    if (step != SQLITE_DONE)
        rc = hh_store_db_fail(s, err, "doc chunk ids");
cleanup:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        free(v);
        return rc;
    }
    *ids = v;
    *n = nv;
    return 0;
}
