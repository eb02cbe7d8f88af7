/* retrieve_fts.c - the BM25 list of retrieval (retrieve_int.h): words of free
 * text, the FTS5 query of the analyzed question terms (every term a quoted
 * string: user text is never FTS5 syntax), the matching readable chunks
 * with their per-term counts from FTS5 (the auxiliary function hh_kb_tf)
 * and BM25 scored here over the statistics of the readable chunks alone
 * (see retrieve.c for why). */
#include "kb/retrieve.h"
#include "kb/retrieve_int.h"
#include "base/strbuf.h"
#include "store/store_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

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
int hh_rt_terms_fts_query(const hh_query_terms_t *q, char **out)
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
    while (n_words < HH_RT_MAX_FTS_WORDS && hh_kb_word_next(text, len, &pos, &st, &wl)) {
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
static double backoff_weight(const hh_query_terms_t *qt, size_t n_phr, size_t p, const int64_t *df)
{
    double w = qt->t[p].weight;
    if (qt->t[p].kind == HH_AN_EXACT)
        return w;
    for (size_t e = 0; e < n_phr; e++)
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

int hh_rt_bm25_list(hh_store_t *s, const char *fts, const hh_query_terms_t *qt, const hh_rt_acl_t *acl, int32_t depth,
                     hh_rt_cand_t **out, size_t *n, hh_err_t *err)
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
    hh_rt_cand_t *v = NULL;
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
        ptrdiff_t at = hh_rt_acl_find(acl, rows[n_rows].id);
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
        idf[p] *= backoff_weight(qt, n_phr, p, df);
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
 * which hh_rt_bm25_list takes from the access set: FTS5's xColumnSize would run
 * a query on the docsize table per row), then per query phrase its
 * instances in the row (all columns, weight 1 as in bm25()). Phrases are
 * capped by the query builder (HH_RT_MAX_FTS_WORDS), so the blob is small. */
static void fts5_tf(const fts5_ext_t *api, fts5_ctx_t *fc, sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    int n_phr = api->phrase_count(fc), n_inst = 0;
    if (n_phr < 0 || n_phr > 4 * HH_RT_MAX_FTS_WORDS) {
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
int hh_rt_fts5_register_tf(sqlite3 *db)
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
