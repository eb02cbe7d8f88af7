/* test_kb_eval_de.c - the German labeled evaluation of the knowledge base
 * (issue 14; docs/KB.md "Evaluation", "German set").
 *
 * tests/kb/de/queries.jsonl holds questions written as staff ask them,
 * each with a `kind` (synonym, compound, inflection, colloquial, exact,
 * english, unanswerable) and, when answerable, the document (`doc`, a path
 * suffix) and a `passage` that answers it. The company corpus
 * (tests/kb/de/corpus/, written for these tests) is ingested into a real
 * store and every question goes through hh_kb_retrieve (BM25; hybrid as
 * well when HOHEIT_KB_EVAL_MODELS names a folder with an embedding model)
 * and through the extractive answer (src/kb/answer.h) as /api/ask makes it
 * (top 5 hits, default params). Printed per kind: recall@5 and MRR@10;
 * abstention (unanswerable questions abstained or marked unsure; answerable
 * ones abstained - the "wrongly abstained" - and marked unsure
 * apart, and the two together); calibration of the confidence against
 * correctness (reliability table over 10 bins, expected calibration error).
 * Questions with "heldout": true were written before the second round of
 * synonym/colloquial ranking changes and kept out of every fit and bound;
 * their recall is printed on its own.
 * Questions with "corpus": "debian" run over the German Debian Reference
 * chapters listed in tests/kb/de/debian_files.txt, taken from
 * build/kb-corpus (tests/kb/build_corpus.sh) when it is there.
 *
 * Correct (for calibration): the answer is not abstained, and the source
 * its first citation names is a chunk of the labeled document that holds
 * the labeled passage (white space runs collapsed). An unanswerable
 * question is never answered correctly.
 *
 * kb_eval_de_calibration fits the confidence to that set: a logistic map
 * from the features the extractive confidence is made of (and two more the
 * hits give) to the probability of a correct answer, and the threshold
 * that meets the abstention targets, judged on held-out data (2 folds
 * split by document), and prints the fitted parameters.
 *
 * HOHEIT_KB_EVAL_VERBOSE=1 prints every question's rank, confidence and
 * outcome. Retrieval analyzes text as /api/ask does (kb/analyze.h: stems,
 * compounds, synonyms, translations, reranking); HOHEIT_KB_EVAL_ANALYZE=0
 * measures stemming alone. */
#include "harness.h"
#include "engine/embedders.h"
#include "engine/engine.h"
#include "kb/answer.h"
#include "kb/dense.h"
#include "kb/ingest.h"
#include "kb/retrieve.h"
#include "store/store.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DE_QUERIES   "tests/kb/de/queries.jsonl"
#define DE_CORPUS    "tests/kb/de/corpus"
#define DE_DEBIAN    "tests/kb/de/debian_files.txt"
#define DE_MAX_Q     512
#define DE_ANSWER_K  5      /* hits an answer is made from (/api/ask's default k) */
#define DE_BINS      10

enum { K_SYN, K_CMP, K_INF, K_COL, K_EXA, K_ENG, K_UNA, N_KINDS };
static const char *const g_kinds[N_KINDS] = { "synonym", "compound",  "inflection",  "colloquial",
                                              "exact",   "english",   "unanswerable" };

/* Features of one question's extractive answer, the inputs of its
 * confidence (kb/answer.h hh_kb_xfeat_t). */
#define N_FEAT HH_KB_XF_N
#define F_BIAS HH_KB_XF_BIAS
static const char *const g_feat[N_FEAT] = { "bias", "F", "Qs", "E", "margin", "agree", "W", "F*Qs*E*W" };

typedef struct de_q {
    char   *id, *query, *doc, *passage;  /* doc, passage NULL: unanswerable */
    int     kind;
    bool    en, debian;
    bool    fresh;                       /* "heldout": written after the ranking work began, kept out of
                                          * every fit and every bound; reported on its own */
    int     fold;                        /* 0/1, by document (held-out fits) */
    /* measured, BM25 */
    int     rank;                        /* of the first relevant hit in the top 10; 0: none */
    int     rank_hy;                     /* the same in hybrid mode (when run) */
    double  conf;                        /* the extractive answer's confidence */
    bool    abstained, unsure, correct, done;
    double  x[N_FEAT];
} de_q_t;

typedef struct de_set {
    de_q_t q[DE_MAX_Q];
    size_t n;
} de_set_t;

static void squash(char *s)
{
    char *o = s;
    bool sp = false;
    for (char *p = s; *p; p++) {
        bool w = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
        if (w && sp)
            continue;
        *o++ = w ? ' ' : *p;
        sp = w;
    }
    *o = '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Folds by document: the documents in name order alternate between fold 0
 * and 1, so both folds hold about half of them and no document's questions
 * are in both. Unanswerable questions alternate in file order. */
static void set_folds(de_set_t *set)
{
    static const char *docs[DE_MAX_Q];
    size_t nd = 0, una = 0;
    for (size_t i = 0; i < set->n; i++)
        if (set->q[i].doc)
            docs[nd++] = set->q[i].doc;
    qsort(docs, nd, sizeof *docs, cmp_str);
    size_t nu = 0;
    for (size_t i = 0; i < nd; i++)
        if (i == 0 || strcmp(docs[i], docs[nu - 1]) != 0)
            docs[nu++] = docs[i];
    for (size_t i = 0; i < set->n; i++) {
        de_q_t *q = &set->q[i];
        if (!q->doc) {
            q->fold = (int)(una++ & 1u);
            continue;
        }
        const char **at = bsearch(&q->doc, docs, nu, sizeof *docs, cmp_str);
        q->fold = at ? (int)((size_t)(at - docs) & 1u) : 0;
    }
}

static void set_free(de_set_t *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->q[i].id);
        free(set->q[i].query);
        free(set->q[i].doc);
        free(set->q[i].passage);
    }
    set->n = 0;
}

/* Reads the JSONL set; HH_EFORMAT for a line without the fields its kind
 * needs or with an unknown kind. */
static int set_load(de_set_t *set, const char *file)
{
    memset(set, 0, sizeof *set);
    size_t size = 0;
    char *all = hh_test_read_file(file, &size);
    if (!all)
        return HH_EIO;
    int rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(all, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        const cJSON *kt = cJSON_GetObjectItemCaseSensitive(j, "kind");
        const cJSON *qt = cJSON_GetObjectItemCaseSensitive(j, "query");
        const cJSON *lt = cJSON_GetObjectItemCaseSensitive(j, "lang");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "doc");
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(j, "passage");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(j, "corpus");
        const cJSON *ht = cJSON_GetObjectItemCaseSensitive(j, "heldout");
        int kind = -1;
        for (int k = 0; cJSON_IsString(kt) && k < N_KINDS; k++)
            if (!strcmp(kt->valuestring, g_kinds[k]))
                kind = k;
        bool answerable = kind >= 0 && kind != K_UNA;
        if (!cJSON_IsString(id) || !cJSON_IsString(qt) || !cJSON_IsString(lt) || kind < 0 || set->n == DE_MAX_Q ||
            (answerable && (!cJSON_IsString(dt) || !cJSON_IsString(pt)))) {
            printf("    bad line: %.120s\n", line);
            rc = HH_EFORMAT;
        } else {
            de_q_t *q = &set->q[set->n++];
            q->id = strdup(id->valuestring);
            q->query = strdup(qt->valuestring);
            q->kind = kind;
            q->en = !strcmp(lt->valuestring, "en");
            q->debian = cJSON_IsString(ct) && !strcmp(ct->valuestring, "debian");
            q->fresh = cJSON_IsTrue(ht);
            if (answerable) {
                q->doc = strdup(dt->valuestring);
                q->passage = strdup(pt->valuestring);
                if (q->passage)
                    squash(q->passage);
            }
            if (!q->id || !q->query || (answerable && (!q->doc || !q->passage)))
                rc = HH_ENOMEM;
        }
        cJSON_Delete(j);
    }
    free(all);
    if (rc)
        set_free(set);
    else
        set_folds(set);
    return rc;
}

/* A hit answers q: its document's path ends with "/" + q->doc (or is it)
 * and its text holds the passage. */
static bool relevant(hh_store_t *s, const de_q_t *q, const hh_kb_hit_t *h)
{
    if (!q->doc)
        return false;
    hh_store_doc_t d;
    if (hh_store_doc_get(s, h->document_id, &d, NULL) != 0)
        return false;
    size_t pl = strlen(d.source_path), dl = strlen(q->doc);
    if (pl < dl || strcmp(d.source_path + pl - dl, q->doc) != 0 || (pl > dl && d.source_path[pl - dl - 1] != '/'))
        return false;
    char *t = strdup(h->text ? h->text : "");
    if (!t)
        return false;
    squash(t);
    bool ok = strstr(t, q->passage) != NULL;
    free(t);
    return ok;
}

/* Rank (1-based) of the first relevant hit among n; 0 when none. */
static int first_relevant(hh_store_t *s, const de_q_t *q, const hh_kb_hit_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (relevant(s, q, &h[i]))
            return (int)i + 1;
    return 0;
}

/* Runs q in mode (top 10): the rank of the first relevant hit, and with
 * answer the extractive answer over the top DE_ANSWER_K hits with params
 * ap (the answer /api/ask gives: hybrid hits when hybrid is on, else
 * BM25). */
static int run_one(hh_store_t *s, hh_analyzer_t *an, hh_vindex_t *ix, const hh_kb_embedder_t *em, hh_kb_mode_t mode,
                   bool answer, const hh_kb_answer_params_t *ap, de_q_t *q)
{
    hh_kb_query_t kq = { .analyzer = an, .user = "eval", .text = q->query, .k = 10 };
    hh_kb_hit_t *h = NULL;
    size_t n = 0;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = hh_kb_retrieve_mode(s, ix, em, &kq, mode, &h, &n, &err);
    if (rc) {
        printf("    %s: retrieve: %s\n", q->id, err.msg);
        return rc;
    }
    int rank = first_relevant(s, q, h, n);
    if (getenv("HOHEIT_KB_EVAL_VERBOSE") && q->doc && rank != 1 && mode == HH_KB_BM25_ONLY)
        for (size_t i = 0; i < n && i < 5; i++)   /* what ranked above the passage */
            printf("        %zu. %s | %s (bm25 %.2f rank %d, rerank %.3f)\n", i + 1, h[i].title,
                   h[i].heading_path ? h[i].heading_path : "", h[i].bm25, h[i].bm25_rank, h[i].rerank);
    if (mode == HH_KB_BM25_ONLY)
        q->rank = rank;
    else
        q->rank_hy = rank;
    if (!answer) {
        hh_kb_hits_free(h, n);
        return 0;
    }
    size_t na = n < DE_ANSWER_K ? n : DE_ANSWER_K;
    hh_kb_answer_t a;
    rc = hh_kb_answer_extractive(h, na, q->query, ap, &a, &err);
    if (rc == 0) {
        q->conf = a.confidence;
        q->abstained = a.abstained;
        q->unsure = a.unsure;
        q->correct = false;
        for (size_t c = 0; !a.abstained && c < a.n_cites; c++)
            if (a.cites[c].valid) {
                q->correct = relevant(s, q, &h[a.cites[c].n - 1]);
                break;
            }
        /* the features the answer's confidence is made of */
        memcpy(q->x, a.xfeat, sizeof q->x);
        q->done = true;
        hh_kb_answer_clear(&a);
    }
    hh_kb_hits_free(h, n);
    return rc;
}

/* Label check: a labeled passage that retrieval did not find in the top 10
 * must at least exist in its document (found with the passage itself as
 * the query, top 100), else the label is wrong. */
static bool label_exists(hh_store_t *s, hh_analyzer_t *an, const de_q_t *q)
{
    hh_kb_query_t kq = { .analyzer = an, .user = "eval", .text = q->passage, .k = 100 };
    hh_kb_hit_t *h = NULL;
    size_t n = 0;
    if (hh_kb_retrieve_mode(s, NULL, NULL, &kq, HH_KB_BM25_ONLY, &h, &n, NULL) != 0)
        return false;
    bool ok = first_relevant(s, q, h, n) > 0;
    hh_kb_hits_free(h, n);
    return ok;
}

/* ---- metrics ------------------------------------------------------------ */

typedef struct kind_res {
    size_t n;
    double recall5, mrr, recall5_hy, mrr_hy;
    double correct, declined, abstained, mean_conf;
} kind_res_t;

/* Per kind over the questions with done set, debian == deb and fresh ==
 * fresh (the held-out questions apart). */
static void per_kind(const de_set_t *set, bool deb, bool fresh, kind_res_t out[N_KINDS])
{
    memset(out, 0, N_KINDS * sizeof *out);
    for (size_t i = 0; i < set->n; i++) {
        const de_q_t *q = &set->q[i];
        if (!q->done || q->debian != deb || q->fresh != fresh)
            continue;
        kind_res_t *r = &out[q->kind];
        r->n++;
        r->recall5 += q->rank >= 1 && q->rank <= 5;
        r->mrr += q->rank ? 1.0 / q->rank : 0;
        r->recall5_hy += q->rank_hy >= 1 && q->rank_hy <= 5;
        r->mrr_hy += q->rank_hy ? 1.0 / q->rank_hy : 0;
        r->correct += q->correct;
        r->declined += q->abstained || q->unsure;
        r->abstained += q->abstained;
        r->mean_conf += q->conf;
    }
    for (int k = 0; k < N_KINDS; k++)
        if (out[k].n) {
            double d = (double)out[k].n;
            out[k].recall5 /= d;
            out[k].mrr /= d;
            out[k].recall5_hy /= d;
            out[k].mrr_hy /= d;
            out[k].correct /= d;
            out[k].declined /= d;
            out[k].abstained /= d;
            out[k].mean_conf /= d;
        }
}

static double frac(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0;
}

/* Reliability over the questions with use[i] (use NULL: all n) of
 * confidence conf[i] against correct: 10 equal-width bins; returns the
 * expected calibration error sum_b n_b / N * |accuracy_b - mean conf_b|. */
static double ece_of(const double *conf, const bool *correct, const bool *use, size_t n, bool print)
{
    size_t cnt[DE_BINS] = { 0 }, total = 0;
    double sc[DE_BINS] = { 0 }, sa[DE_BINS] = { 0 };
    for (size_t i = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        double c = conf[i] < 0 ? 0 : conf[i] > 1 ? 1 : conf[i];
        int b = (int)(c * DE_BINS);
        if (b >= DE_BINS)
            b = DE_BINS - 1;
        cnt[b]++;
        sc[b] += c;
        sa[b] += correct[i];
        total++;
    }
    double ece = 0;
    if (print)
        printf("      bin        n   mean conf  accuracy\n");
    for (int b = 0; b < DE_BINS; b++) {
        if (!cnt[b])
            continue;
        double mc = sc[b] / (double)cnt[b], acc = sa[b] / (double)cnt[b];
        ece += (double)cnt[b] / (double)total * fabs(acc - mc);
        if (print)
            printf("      %.1f-%.1f %5zu   %.3f      %.3f\n", b / 10.0, (b + 1) / 10.0, cnt[b], mc, acc);
    }
    return total ? ece : 0;
}

/* Declining below threshold t: share of unanswerable questions declined
 * (*u) and of answerable ones (*w), over the questions with use[i]. */
static void decline_at(const de_set_t *set, const double *conf, const bool *use, double t, double *u, double *w)
{
    size_t nu = 0, du = 0, na = 0, da = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (!use[i])
            continue;
        bool una = set->q[i].kind == K_UNA, dec = conf[i] < t;
        nu += una;
        du += una && dec;
        na += !una;
        da += !una && dec;
    }
    *u = nu ? (double)du / (double)nu : 0;
    *w = na ? (double)da / (double)na : 0;
}

/* ---- fitting ------------------------------------------------------------ */

static double sigmoid(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

static double fitted_conf(const double *w, const double *x)
{
    double z = 0;
    for (int f = 0; f < N_FEAT; f++)
        z += w[f] * x[f];
    return sigmoid(z);
}

/* Logistic regression of correct on the features, over the questions with
 * use[i]: batch gradient descent on the mean log loss with a small L2
 * penalty (not on the bias). The log loss is a proper scoring rule, so its
 * minimum is the calibrated probability the features allow. */
static void fit_logistic(const de_set_t *set, const bool *use, double w[N_FEAT])
{
    memset(w, 0, N_FEAT * sizeof *w);
    const double lr = 0.5, l2 = 1e-3;
    for (int it = 0; it < 4000; it++) {
        double g[N_FEAT] = { 0 };
        size_t m = 0;
        for (size_t i = 0; i < set->n; i++) {
            if (!use[i])
                continue;
            double e = fitted_conf(w, set->q[i].x) - (double)set->q[i].correct;
            for (int f = 0; f < N_FEAT; f++)
                g[f] += e * set->q[i].x[f];
            m++;
        }
        if (!m)
            return;
        for (int f = 0; f < N_FEAT; f++)
            w[f] -= lr * (g[f] / (double)m + (f == F_BIAS ? 0 : l2 * w[f]));
    }
}

/* The targets: unanswerable questions abstained or marked unsure
 * >= 0.8, answerable ones wrongly abstained ("not found") <= 0.1. The
 * thresholds are fitted with a margin on each (the training fold is half
 * the set, so a held-out fold scatters around it): */
#define FIT_UNA_DECLINED 0.85   /* unsure: unanswerable declined on the training questions */
#define FIT_ANS_ABSTAINED 0.05  /* abstain: answerable abstained on the training questions */

/* The unsure threshold (grid 0.00..1.00) for conf over use: the lowest
 * one that declines (abstains or marks unsure) FIT_UNA_DECLINED of the
 * unanswerable questions - lower marks fewer answerable ones unsure; when
 * none does, the one declining the most. *met tells whether one did. */
static double fit_threshold(const de_set_t *set, const double *conf, const bool *use, bool *met)
{
    double best_t = 1, best_u = -1;
    for (int k = 0; k <= 100; k++) {
        double t = k / 100.0, u, w;
        decline_at(set, conf, use, t, &u, &w);
        if (u >= FIT_UNA_DECLINED - 1e-9) {
            *met = true;
            return t;
        }
        if (u > best_u) {
            best_u = u;
            best_t = t;
        }
    }
    *met = false;
    return best_t;
}

/* The abstain threshold (grid 0.00..t_max): the highest one below which at
 * most FIT_ANS_ABSTAINED of the answerable questions over use fall -
 * "not found" is kept for questions whose best passage shares almost
 * nothing with them; the band up to the unsure threshold is answered,
 * marked unsure. */
static double fit_abstain(const de_set_t *set, const double *conf, const bool *use, double t_max)
{
    double best = 0;
    for (int k = 0; k <= 100 && k / 100.0 <= t_max + 1e-9; k++) {
        double u, w;
        decline_at(set, conf, use, k / 100.0, &u, &w);
        if (w <= FIT_ANS_ABSTAINED + 1e-9)
            best = k / 100.0;
    }
    return best;
}

/* Precision and recall of declining over thresholds, for conf over use:
 * recall = unanswerable declined, precision = share of the declined that
 * are unanswerable, answerable declined, correctly answered declined. */
static void pr_table(const de_set_t *set, const double *conf, const bool *use)
{
    printf("      threshold  unanswerable declined (recall)  precision  answerable declined  correct ones declined\n");
    for (int k = 1; k <= 9; k++) {
        double t = k / 10.0;
        size_t nu = 0, du = 0, na = 0, da = 0, nc = 0, dc = 0;
        for (size_t i = 0; i < set->n; i++) {
            if (!use[i])
                continue;
            bool una = set->q[i].kind == K_UNA, dec = conf[i] < t;
            nu += una;
            du += una && dec;
            na += !una;
            da += !una && dec;
            nc += set->q[i].correct;
            dc += set->q[i].correct && dec;
        }
        printf("      %.1f        %.3f                           %.3f      %.3f                %.3f\n", t,
               nu ? (double)du / (double)nu : 0, du + da ? (double)du / (double)(du + da) : 0,
               na ? (double)da / (double)na : 0, nc ? (double)dc / (double)nc : 0);
    }
}

/* ---- the evaluation ------------------------------------------------------ */

typedef struct de_env {
    char            dir[512];
    hh_store_t     *st;
    hh_engine_t    *engine;      /* hybrid only */
    hh_embedders_t *reg;
    hh_kb_dense_t  *dense;
    hh_vindex_t    *ix;
    hh_kb_embedder_t qe;
    hh_analyzer_t  *an;          /* the text analysis /api/ask uses (kb/analyze.h); NULL with
                                  * HOHEIT_KB_EVAL_ANALYZE=0: stemming alone */
    size_t          docs, chunks;
} de_env_t;

static void env_close(de_env_t *e)
{
    hh_kb_dense_fini(e->dense);
    hh_embedders_free(e->reg);
    hh_engine_free(e->engine);
    hh_store_close(e->st);
    hh_analyzer_free(e->an);
}

/* Ingests root into collection coll (with the embedding model's vectors
 * when hybrid is on). */
static int env_ingest(de_env_t *e, const char *root, const char *coll, hh_err_t *err)
{
    int rc = hh_store_collection_ensure(e->st, coll, NULL, 0, NULL, err);
    if (rc)
        return rc;
    hh_ingest_params_t ip = hh_ingest_default_params();
    ip.embedder = e->dense ? hh_kb_dense_ingest_embedder(e->dense) : NULL;
    ip.analyzer = e->an;
    hh_ingest_totals_t tot;
    const char *paths[] = { root };
    rc = hh_ingest_paths(e->st, paths, 1, coll, 0, &ip, NULL, NULL, &tot, err);
    hh_ingest_embedder_free(ip.embedder);
    if (rc == 0 && tot.failed)
        rc = hh_err_set(err, HH_EIO, -1, "%zu files of %s failed", tot.failed, root);
    e->docs += tot.added;
    e->chunks += tot.chunks;
    if (rc == 0 && e->dense) {
        /* a fresh index from the stored vectors */
        hh_kb_dense_fini(e->dense);
        e->dense = NULL;
        rc = hh_kb_dense_init(&e->dense, e->st, e->reg, NULL, err);
        e->ix = rc == 0 ? hh_kb_dense_query(e->dense, &e->qe) : NULL;
    }
    return rc;
}

/* Opens a store in <tmp>/name with user "eval"; with HOHEIT_KB_EVAL_MODELS
 * (a folder holding an embedding model) also the dense index. */
static int env_open(de_env_t *e, const char *name, hh_err_t *err)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "%s/%s", hh_test_tmpdir(), name);
    int rc = hh_store_open(&e->st, e->dir, err);
    hh_store_user_t u;
    if (rc == 0)
        rc = hh_store_user_ensure(e->st, "eval", "admin", &u, NULL, err);
    const char *analyze = getenv("HOHEIT_KB_EVAL_ANALYZE");
    if (rc == 0 && !(analyze && !strcmp(analyze, "0")))
        rc = hh_analyzer_create(&e->an, NULL, err);
    const char *models = getenv("HOHEIT_KB_EVAL_MODELS");
    if (rc == 0 && models && *models) {
        hh_engine_params_t ep = hh_engine_default_params();
        ep.models_dir = models;
        ep.n_threads = 2;
        rc = hh_engine_create(&e->engine, &ep, err);
        if (rc == 0)
            rc = hh_embedders_create(&e->reg, e->engine, models, 2, err);
        if (rc == 0)
            rc = hh_kb_dense_init(&e->dense, e->st, e->reg, NULL, err);
        if (rc == 0 && !hh_kb_dense_on(e->dense))
            rc = hh_err_set(err, HH_EINVAL, -1, "HOHEIT_KB_EVAL_MODELS=%s: no embedding model there", models);
    }
    return rc;
}

/* Runs every question of set with debian == deb (BM25 + answer; hybrid
 * when on); a missing label fails. */
static int run_set(de_env_t *e, de_set_t *set, bool deb, const hh_kb_answer_params_t *ap)
{
    int bad = 0;
    for (size_t i = 0; i < set->n; i++) {
        de_q_t *q = &set->q[i];
        if (q->debian != deb)
            continue;
        int rc = run_one(e->st, e->an, NULL, NULL, HH_KB_BM25_ONLY, !e->ix, ap, q);
        if (rc == 0 && e->ix)
            rc = run_one(e->st, e->an, e->ix, &e->qe, HH_KB_HYBRID, true, ap, q);
        if (rc)
            return rc;
        if (getenv("HOHEIT_KB_EVAL_VERBOSE"))
            printf("      %-10s rank %2d hybrid %2d conf %.2f %s%s%s  %s\n", q->id, q->rank, q->rank_hy, q->conf,
                   q->correct ? "correct" : "-", q->abstained ? " abstained" : "", q->unsure ? " unsure" : "",
                   q->query);
        if (q->kind != K_UNA && q->rank == 0 && !label_exists(e->st, e->an, q)) {
            printf("    label %s: passage \"%s\" is in no chunk of %s\n", q->id, q->passage, q->doc);
            bad = HH_EFORMAT;
        }
    }
    return bad;
}

static void print_kinds(const kind_res_t *r, bool hybrid)
{
    printf("      kind          n  recall@5  MRR@10 %s correct  declined  abstained  mean conf\n",
           hybrid ? " hy.r@5  hy.MRR" : "");
    for (int k = 0; k < N_KINDS; k++) {
        if (!r[k].n)
            continue;
        if (hybrid)
            printf("      %-12s %3zu   %.3f    %.3f   %.3f   %.3f   %.3f    %.3f     %.3f      %.3f\n", g_kinds[k],
                   r[k].n, r[k].recall5, r[k].mrr, r[k].recall5_hy, r[k].mrr_hy, r[k].correct, r[k].declined,
                   r[k].abstained, r[k].mean_conf);
        else
            printf("      %-12s %3zu   %.3f    %.3f    %.3f    %.3f     %.3f      %.3f\n", g_kinds[k], r[k].n,
                   r[k].recall5, r[k].mrr, r[k].correct, r[k].declined, r[k].abstained, r[k].mean_conf);
    }
}

typedef struct de_result {
    kind_res_t r[N_KINDS], rd[N_KINDS], rf[N_KINDS];  /* company corpus; Debian part; held-out questions */
    bool       debian;                    /* the Debian part ran */
    size_t     docs;
    double     u, w, prec, wc, ece;       /* declined = abstained or unsure (u: unanswerable, w: answerable) */
    double     ua, wa, wu;                /* abstained: unanswerable, answerable; answerable marked unsure */
} de_result_t;

/* Abstention and calibration of the answers as given, over the questions
 * with debian == deb (not the held-out ones): r->u unanswerable declined
 * (abstained or unsure), r->w answerable declined, r->prec the share of
 * declined questions that were unanswerable, abstained and unsure apart
 * (the issue counts an answerable question as wrongly declined only when
 * abstained), r->ece. */
static void abstention(const de_set_t *set, bool deb, bool print, de_result_t *r)
{
    static double conf[DE_MAX_Q];
    static bool cor[DE_MAX_Q], use[DE_MAX_Q];
    size_t nu = 0, du = 0, na = 0, da = 0, nc = 0, dc = 0, au = 0, aa = 0, ua = 0;
    for (size_t i = 0; i < set->n; i++) {
        const de_q_t *q = &set->q[i];
        use[i] = q->done && q->debian == deb && !q->fresh;
        conf[i] = q->conf;
        cor[i] = q->correct;
        if (!use[i])
            continue;
        bool dec = q->abstained || q->unsure;
        if (q->kind == K_UNA) {
            nu++;
            du += dec;
            au += q->abstained;
        } else {
            na++;
            da += dec;
            aa += q->abstained;
            ua += q->unsure && !q->abstained;
            nc += q->correct;
            dc += q->correct && dec;
        }
    }
    r->wc = frac(dc, nc);
    r->u = frac(du, nu);
    r->w = frac(da, na);
    r->prec = frac(du, du + da);
    r->ua = frac(au, nu);
    r->wa = frac(aa, na);
    r->wu = frac(ua, na);
    if (print)
        printf("    reliability of the extractive confidence (correct = first citation holds the labeled passage):\n");
    r->ece = ece_of(conf, cor, use, set->n, print);
}

/* Ingests and measures: the company corpus always, the Debian part when
 * build/kb-corpus (HOHEIT_KB_CORPUS) is there; prints the tables. */
static int measure(de_set_t *set, de_result_t *res, hh_err_t *err)
{
    memset(res, 0, sizeof *res);
    de_env_t e;
    int rc = env_open(&e, "kb_eval_de", err);
    if (rc == 0)
        rc = env_ingest(&e, DE_CORPUS, "firma", err);
    hh_kb_answer_params_t ap = hh_kb_answer_default_params();
    ap.analyzer = e.an;   /* as /api/ask passes the server's */
    if (getenv("HOHEIT_KB_EVAL_ANSWER_ANALYZE") && !strcmp(getenv("HOHEIT_KB_EVAL_ANSWER_ANALYZE"), "0"))
        ap.analyzer = NULL;   /* the answer's own word match (5-char prefixes), for before/after */
    if (rc == 0)
        rc = run_set(&e, set, false, &ap);
    if (rc) {
        env_close(&e);
        return rc;
    }
    res->docs = e.docs;
    per_kind(set, false, false, res->r);
    per_kind(set, false, true, res->rf);
    const bool hy = e.ix != NULL;
    printf("    German eval, company corpus (%zu documents, %zu chunks; BM25%s; extractive, unsure below %.2f, "
           "abstained below %.2f):\n",
           e.docs, e.chunks, hy ? " and hybrid" : ", hybrid: HOHEIT_KB_EVAL_MODELS not set", ap.ext_unsure,
           ap.ext_abstain);
    print_kinds(res->r, hy);
    abstention(set, false, true, res);
    printf("    declined = abstained or marked unsure: unanswerable declined %.3f (recall; target >= 0.8), precision of "
           "declining %.3f, answerable declined %.3f (of the correctly answered ones %.3f), ECE %.3f\n",
           res->u, res->prec, res->w, res->wc, res->ece);
    printf("    abstained (\"not found\") and unsure apart: unanswerable abstained %.3f; answerable abstained %.3f "
           "(target <= 0.1), answerable marked unsure %.3f\n",
           res->ua, res->wa, res->wu);
    printf("    held-out questions (\"heldout\": written before the synonym/colloquial ranking changes, in no fit "
           "or bound):\n");
    print_kinds(res->rf, hy);

    const char *corpus = getenv("HOHEIT_KB_CORPUS") ? getenv("HOHEIT_KB_CORPUS") : "build/kb-corpus";
    char done[600];
    snprintf(done, sizeof done, "%s/.done", corpus);
    struct stat sb;
    if (stat(done, &sb) != 0) {
        printf("    German eval, Debian part: skipped, %s is missing (tests/kb/build_corpus.sh builds it)\n", corpus);
        env_close(&e);
        return 0;
    }
    char sub[700], cmd[2400];
    snprintf(sub, sizeof sub, "%s/debian", e.dir);
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p '%s'; c=$(cd '%s' && pwd -P); "
             "grep -v '^#' " DE_DEBIAN " | while read -r f; do [ -n \"$f\" ] || continue; "
             "test -f \"$c/$f\"; ln -sf \"$c/$f\" '%s'/\"$(basename \"$f\")\"; done",
             sub, corpus, sub);
    if (system(cmd) != 0)
        rc = hh_err_set(err, HH_EIO, -1, "linking the files of " DE_DEBIAN " from %s failed", corpus);
    size_t before = e.docs;
    if (rc == 0)
        rc = env_ingest(&e, sub, "debian", err);
    if (rc == 0)
        rc = run_set(&e, set, true, &ap);
    if (rc == 0) {
        res->debian = true;
        per_kind(set, true, false, res->rd);
        printf("    German eval, Debian Reference part (%zu chapters added; the company corpus stays in the store):\n",
               e.docs - before);
        print_kinds(res->rd, hy);
    }
    env_close(&e);
    return rc;
}

/* The company corpus: always. The Debian part: when build/kb-corpus is
 * there. */
TEST(kb_eval_de)
{
    static de_set_t set;
    ASSERT_OK(set_load(&set, DE_QUERIES));
    size_t per[N_KINDS] = { 0 }, n = 0, n_fresh = 0;
    for (size_t i = 0; i < set.n; i++) {
        per[set.q[i].kind] += !set.q[i].debian && !set.q[i].fresh;
        n += !set.q[i].fresh;
        n_fresh += set.q[i].fresh;
    }
    de_result_t res;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = measure(&set, &res, &err);
    set_free(&set);
    if (rc)
        hh_test_fail(__FILE__, __LINE__, "%s (%d)", err.msg, rc);
    ASSERT_OK(rc);
    for (int k = 0; k < N_KINDS; k++)   /* the set the issue asks for */
        ASSERT_GE(per[k], k == K_UNA ? 30 : 15);
    ASSERT_GE(n - per[K_UNA], 120);
    ASSERT_GE(res.docs, 28);

    /* Lower bounds: the numbers measured after s14-recall's second round
     * (docs/KB.md "Evaluation": recall@5 0.80 synonym, 0.90 compound, 0.90
     * inflection, 0.80 colloquial, 1.00 exact, 0.95 english; unanswerable
     * declined 0.853; answerable abstained 0.050, marked unsure 0.542 (the
     * old mixed figure, abstained or unsure, 0.592); ECE 0.095 with an
     * abstained answer counted as wrong at its confidence), less about one
     * question. The targets: recall@5 >= 0.9 per German kind (not
     * met for synonym and colloquial), >= 0.7 english; unanswerable
     * abstained or marked unsure >= 0.8 with <= 0.1 of the answerable ones
     * wrongly abstained; ECE <= 0.1 - these three are asserted as the
     * targets themselves. */
    const kind_res_t *r = res.r;
    ASSERT_GE(r[K_SYN].recall5, 0.75);
    ASSERT_GE(r[K_CMP].recall5, 0.85);
    ASSERT_GE(r[K_INF].recall5, 0.85);
    ASSERT_GE(r[K_COL].recall5, 0.75);
    ASSERT_GE(r[K_EXA].recall5, 0.95);
    ASSERT_GE(r[K_ENG].recall5, 0.90);
    ASSERT_GE(r[K_EXA].mrr, 0.95);
    ASSERT_GE(res.u, 0.80);    /* unanswerable: abstained or marked unsure */
    ASSERT_LE(res.wa, 0.10);   /* the metric: answerable questions wrongly abstained */
    ASSERT_LE(res.w, 0.65);    /* abstained or unsure (the old mixed figure) */
    ASSERT_LE(res.ece, 0.10);
    ASSERT_GE(r[K_EXA].correct, 0.95);   /* exact wording: the answer cites the passage */
    ASSERT_LE(r[K_EXA].declined, 0.05);  /* and is neither abstained nor unsure */
    ASSERT_GE(r[K_ENG].correct, 0.45);   /* English over German: measured 0.50 */
    ASSERT_LE(r[K_ENG].abstained, 0.15); /* measured 0.10 (marked unsure: most of the rest) */
    ASSERT_GE(n_fresh, 20);              /* the held-out questions: reported, in no bound */
    if (res.debian) {
        size_t nd = 0;
        double rs = 0;
        for (int k = 0; k < N_KINDS; k++) {
            nd += res.rd[k].n;
            rs += res.rd[k].recall5 * (double)res.rd[k].n;
        }
        ASSERT_GE(nd, 10);
        ASSERT_GE(rs / (double)nd, 0.75);   /* measured 0.857 (12 of 14; 0.50 before the German index) */
    }
}

/* Held-out decision counts over folds. */
typedef struct held {
    size_t n_una, n_ans, n_cor, una_dec, ans_abs, ans_uns, cor_abs, cor_dec;
} held_t;

/* Adds the questions with use[i] at abstain threshold ta, unsure tu. */
static void held_add(held_t *h, const de_set_t *set, const double *conf, const bool *use, double ta, double tu)
{
    for (size_t i = 0; i < set->n; i++) {
        if (!use[i])
            continue;
        bool una = set->q[i].kind == K_UNA, ab = conf[i] < ta, dec = conf[i] < tu;
        h->n_una += una;
        h->una_dec += una && dec;
        h->n_ans += !una;
        h->ans_abs += !una && ab;
        h->ans_uns += !una && dec && !ab;
        h->n_cor += set->q[i].correct;
        h->cor_abs += set->q[i].correct && ab;
        h->cor_dec += set->q[i].correct && dec;
    }
}

static void held_print(const held_t *h)
{
    printf("        held out: unanswerable declined %.3f (target >= 0.8); answerable abstained %.3f (target <= 0.1), "
           "answerable marked unsure %.3f (declined in all %.3f); correctly answered abstained %.3f, declined %.3f\n",
           frac(h->una_dec, h->n_una), frac(h->ans_abs, h->n_ans), frac(h->ans_uns, h->n_ans),
           frac(h->ans_abs + h->ans_uns, h->n_ans), frac(h->cor_abs, h->n_cor), frac(h->cor_dec, h->n_cor));
}

/* Fits the confidence on the company set (held out: 2 folds by document)
 * and prints the parameters for src/kb/answer.c. */
TEST(kb_eval_de_calibration)
{
    static de_set_t set;
    ASSERT_OK(set_load(&set, DE_QUERIES));
    de_env_t e;
    hh_err_t err;
    hh_err_clear(&err);
    int rc = env_open(&e, "kb_eval_de_cal", &err);   /* its own store: runs alone with a filter */
    if (rc == 0)
        rc = env_ingest(&e, DE_CORPUS, "firma", &err);
    hh_kb_answer_params_t ap = hh_kb_answer_default_params();
    ap.analyzer = e.an;
    /* correct is judged on the answer as composed: no abstention, so that
     * the labels the fit learns do not depend on the thresholds it sets */
    ap.ext_abstain = 0;
    if (getenv("HOHEIT_KB_EVAL_ANSWER_ANALYZE") && !strcmp(getenv("HOHEIT_KB_EVAL_ANSWER_ANALYZE"), "0"))
        ap.analyzer = NULL;
    if (rc == 0)
        rc = run_set(&e, &set, false, &ap);
    env_close(&e);
    if (rc) {
        set_free(&set);
        hh_test_fail(__FILE__, __LINE__, "setup: %s", err.msg);
        return;
    }
    kind_res_t kr[N_KINDS];
    per_kind(&set, false, false, kr);
    printf("    answers as composed (no abstention; declined = marked unsure at %.2f):\n", ap.ext_unsure);
    print_kinds(kr, false);
    static double cur[DE_MAX_Q], fit[DE_MAX_Q];
    static bool cor[DE_MAX_Q], all[DE_MAX_Q], train[DE_MAX_Q], test[DE_MAX_Q];
    for (size_t i = 0; i < set.n; i++) {
        cur[i] = set.q[i].conf;
        cor[i] = set.q[i].correct;
        all[i] = set.q[i].done && !set.q[i].debian && !set.q[i].fresh;
    }
    /* held out: fit on one fold, score the other, both ways */
    double thr_cur[2], thr_fit[2], abs_fit[2], abs_cur[2];
    bool met_cur[2], met_fit[2];
    size_t n_fold[2] = { 0, 0 };
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < set.n; i++) {
            train[i] = all[i] && set.q[i].fold != f;
            test[i] = all[i] && set.q[i].fold == f;
            n_fold[f] += test[i];
        }
        double wv[N_FEAT];
        fit_logistic(&set, train, wv);
        static double tr_fit[DE_MAX_Q];
        for (size_t i = 0; i < set.n; i++)
            tr_fit[i] = fitted_conf(wv, set.q[i].x);
        thr_cur[f] = fit_threshold(&set, cur, train, &met_cur[f]);
        thr_fit[f] = fit_threshold(&set, tr_fit, train, &met_fit[f]);
        abs_cur[f] = fit_abstain(&set, cur, train, thr_cur[f]);
        abs_fit[f] = fit_abstain(&set, tr_fit, train, thr_fit[f]);
        for (size_t i = 0; i < set.n; i++)
            if (test[i])
                fit[i] = tr_fit[i];
    }
    /* held out: each fold's questions against the thresholds fitted on
     * the other fold; unanswerable declined (abstained or unsure),
     * answerable abstained, answerable marked unsure (answered), correctly
     * answered ones abstained */
    held_t hc = { 0 }, hf = { 0 };
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < set.n; i++)
            test[i] = all[i] && set.q[i].fold == f;
        held_add(&hc, &set, cur, test, abs_cur[f], thr_cur[f]);
        held_add(&hf, &set, fit, test, abs_fit[f], thr_fit[f]);
    }
    double ece_cur = ece_of(cur, cor, all, set.n, false);
    printf("    calibration, held out (2 folds by document, %zu + %zu questions; thresholds fitted on the other fold "
           "for unanswerable declined >= %.2f, answerable abstained <= %.2f):\n",
           n_fold[0], n_fold[1], FIT_UNA_DECLINED, FIT_ANS_ABSTAINED);
    printf("      current confidence (defaults): ECE %.3f; unsure %.2f / %.2f, abstain %.2f / %.2f%s\n", ece_cur,
           thr_cur[0], thr_cur[1], abs_cur[0], abs_cur[1], met_cur[0] && met_cur[1] ? "" : " (not reached)");
    held_print(&hc);
    double ece_fit_ho = ece_of(fit, cor, all, set.n, false);
    printf("      fitted logistic map:     ECE %.3f; unsure %.2f / %.2f, abstain %.2f / %.2f%s\n", ece_fit_ho,
           thr_fit[0], thr_fit[1], abs_fit[0], abs_fit[1], met_fit[0] && met_fit[1] ? "" : " (not reached)");
    held_print(&hf);
    printf("      reliability of the fitted map, held out:\n");
    double ece_fit = ece_of(fit, cor, all, set.n, true);
    (void)ece_fit_ho;
    printf("      declining below a threshold, fitted map held out:\n");
    pr_table(&set, fit, all);

    /* the parameters to apply: fitted on every company question */
    double wv[N_FEAT];
    fit_logistic(&set, all, wv);
    static double conf_all[DE_MAX_Q];
    for (size_t i = 0; i < set.n; i++)
        conf_all[i] = fitted_conf(wv, set.q[i].x);
    bool met_a, met_b;
    double t_cur = fit_threshold(&set, cur, all, &met_a), t_fit = fit_threshold(&set, conf_all, all, &met_b);
    double t_abs = fit_abstain(&set, conf_all, all, t_fit);
    printf("    fitted on all: C = sigmoid(");
    for (int f = 0; f < N_FEAT; f++)
        printf("%s%+.3f%s%s", f ? " " : "", wv[f], f ? "*" : "", f ? g_feat[f] : "");
    printf("), unsure below %.2f%s, abstain below %.2f; for the current C: threshold %.2f%s\n", t_fit,
           met_b ? "" : " (targets not met)", t_abs, t_cur, met_a ? "" : " (targets not met)");
    printf("    for hh_kb_answer_default_params (src/kb/answer.c):\n      static const double w[HH_KB_XF_N] = { ");
    for (int f = 0; f < N_FEAT; f++)
        printf("%s%.3f", f ? ", " : "", wv[f]);
    printf(" };\n      p.ext_unsure = %.2f;\n      p.ext_abstain = %.2f;\n", t_fit, t_abs);
    set_free(&set);
    ASSERT_GE(n_fold[0], 40);   /* both folds big enough to judge a fit */
    ASSERT_GE(n_fold[1], 40);
    /* A fit is judged held out: it must not be worse calibrated than the
     * confidence it replaces by more than noise, and within the issue's
     * bound. */
    ASSERT_LE(ece_fit, ece_cur + 0.05);
    ASSERT_LE(ece_fit, 0.12);
    for (int f = 0; f < N_FEAT; f++)
        ASSERT_TRUE(isfinite(wv[f]));
}
