/* test_vindex.c - the dense vector index: dot kernels vs reference, exact
 * search vs brute force, filters (ids, bitmap, callback; far-away allowed
 * ids), remove / replace / compaction, save/load round trip and corrupt
 * files, HNSW recall@10 (unfiltered and 50 % filter), concurrent searches
 * while a writer adds. */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kb/vindex.h"
#include "kb/vindex_int.h"

/* --- data ----------------------------------------------------------------- */

static uint64_t rng_u64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static float rng_unit(uint64_t *s) { return (float)((rng_u64(s) >> 11) * 0x1p-53); }

static float rng_normal(uint64_t *s)
{
    float u = rng_unit(s), v = rng_unit(s);
    if (u < 1e-12f) u = 1e-12f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

static void normalize(float *x, int dim)
{
    double n = 0;
    for (int i = 0; i < dim; i++) n += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(n > 0 ? n : 1));
    for (int i = 0; i < dim; i++) x[i] *= inv;
}

/* n normalized vectors around n_clusters random centers: center + noise of
 * relative size `spread` (embedding-like: neighbors share a topic). */
static float *make_clustered(int n, int dim, int n_clusters, float spread, uint64_t seed)
{
    uint64_t s = seed;
    float *c = malloc((size_t)n_clusters * dim * sizeof *c);
    float *x = malloc((size_t)n * dim * sizeof *x);
    if (!c || !x) {
        free(c);
        free(x);
        return NULL;
    }
    for (int i = 0; i < n_clusters * dim; i++) c[i] = rng_normal(&s);
    for (int i = 0; i < n_clusters; i++) normalize(c + (size_t)i * dim, dim);
    float sd = spread / sqrtf((float)dim);
    for (int i = 0; i < n; i++) {
        const float *ci = c + (size_t)(rng_u64(&s) % (uint64_t)n_clusters) * dim;
        float *xi = x + (size_t)i * dim;
        for (int d = 0; d < dim; d++) xi[d] = ci[d] + sd * rng_normal(&s);
        normalize(xi, dim);
    }
    free(c);
    return x;
}

static float *make_random(int n, int dim, uint64_t seed) { return make_clustered(n, dim, n, 0.0f, seed); }

/* Brute-force top k (double accumulation) over vectors i with allow(i):
 * the reference the index must match. Ties broken by smaller id. */
typedef struct { double s; int64_t id; } ref_hit_t;

static int ref_cmp(const void *a, const void *b)
{
    const ref_hit_t *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static int brute_force(const float *x, const int64_t *ids, int n, int dim, const float *q, int k,
                       bool (*allow)(int64_t, void *), void *ctx, ref_hit_t *out)
{
    ref_hit_t *all = malloc((size_t)n * sizeof *all);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (allow && !allow(ids[i], ctx)) continue;
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)x[(size_t)i * dim + d] * q[d];
        all[m++] = (ref_hit_t){ s, ids[i] };
    }
    qsort(all, (size_t)m, sizeof *all, ref_cmp);
    int r = m < k ? m : k;
    memcpy(out, all, (size_t)r * sizeof *out);
    free(all);
    return r;
}

static bool allow_even(int64_t id, void *ctx) { (void)ctx; return id % 2 == 0; }
static bool allow_mod7(int64_t id, void *ctx) { (void)ctx; return id % 7 == 3; }

/* --- kernels -------------------------------------------------------------- */

TEST(vindex_dot_kernels_match_reference)
{
    uint64_t s = 7;
    float a[516], b[516];
    for (int i = 0; i < 516; i++) {
        a[i] = rng_normal(&s);
        b[i] = rng_normal(&s);
    }
    int n_isas = 0;
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        hh_vindex_dot_fn f = hh_vindex_dot_for((hh_isa_t)isa);
        if (!f) continue;
        n_isas++;
        /* offset 1: unaligned rows; every tail length up to 70, then steps */
        for (int n = 0; n <= 515; n += (n < 70 ? 1 : 37)) {
            double ref = 0, mag = 0;
            for (int i = 1; i <= n; i++) {
                ref += (double)a[i] * b[i];
                mag += fabs((double)a[i] * b[i]);
            }
            /* float accumulation in another order: error <= ~n * eps * sum|ab| */
            ASSERT_NEAR(f(a + 1, b + 1, (size_t)n), ref, 1e-6 * (mag + 1));
        }
    }
    ASSERT_GE(n_isas, 1);
    ASSERT_TRUE(hh_vindex_dot_best() != NULL);
}

TEST(vindex_rejects_bad_arguments)
{
    hh_vindex_t *ix = NULL;
    ASSERT_EQ_INT(hh_vindex_create(&ix, 0, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_vindex_create(&ix, 70000, NULL), HH_EINVAL);
    hh_vindex_params_t p = hh_vindex_default_params();
    p.M = 1;
    ASSERT_EQ_INT(hh_vindex_create(&ix, 8, &p), HH_EINVAL);
    ASSERT_OK(hh_vindex_create(&ix, 8, NULL));
    float v[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    int64_t ids[4];
    float sc[4];
    int n = -1;
    ASSERT_OK(hh_vindex_search(ix, v, 4, NULL, ids, sc, &n));
    ASSERT_EQ_INT(n, 0);                              /* empty index */
    ASSERT_OK(hh_vindex_add(ix, 5, v));
    ASSERT_EQ_INT(hh_vindex_search(ix, v, 0, NULL, ids, sc, &n), HH_EINVAL);
    ASSERT_EQ_INT(hh_vindex_search(ix, v, 5000, NULL, ids, sc, &n), HH_EINVAL);
    float bad[8] = { NAN, 0, 0, 0, 0, 0, 0, 0 };
    ASSERT_EQ_INT(hh_vindex_add(ix, 6, bad), HH_EINVAL);
    ASSERT_EQ_INT(hh_vindex_search(ix, bad, 4, NULL, ids, sc, &n), HH_EINVAL);
    hh_vindex_filter_t f = { .kind = HH_VINDEX_FILTER_FN };   /* no callback */
    ASSERT_EQ_INT(hh_vindex_search(ix, v, 4, &f, ids, sc, &n), HH_EINVAL);
    int64_t unsorted[2] = { 9, 5 };
    hh_vindex_filter_t fu = { .kind = HH_VINDEX_FILTER_IDS, .ids = unsorted, .n_ids = 2 };
    ASSERT_EQ_INT(hh_vindex_search(ix, v, 4, &fu, ids, sc, &n), HH_EINVAL);
    ASSERT_EQ_INT(hh_vindex_remove(ix, 77), HH_ENOENT);
    ASSERT_EQ_INT(hh_vindex_size(ix), 1);
    hh_vindex_free(ix);
}

/* --- exact ------------------------------------------------------------------ */

/* Compares the index's answer with the brute-force one: same ids in the
 * same order wherever neighboring reference scores are not near-ties, and
 * scores within float rounding. Returns false (after reporting) on mismatch. */
static bool same_as_reference(const int64_t *ids, const float *sc, int n, const ref_hit_t *ref, int n_ref,
                              int line)
{
    if (n != n_ref) {
        hh_test_fail(__FILE__, line, "n_found: expected %d, got %d", n_ref, n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (fabs((double)sc[i] - ref[i].s) > 1e-5) {
            hh_test_fail(__FILE__, line, "rank %d: expected score %.7f, got %.7f", i, ref[i].s, (double)sc[i]);
            return false;
        }
        bool tie = (i > 0 && ref[i].s - ref[i - 1 + 0].s > -2e-5) || (i + 1 < n_ref && ref[i].s - ref[i + 1].s < 2e-5);
        if (!tie && ids[i] != ref[i].id) {
            hh_test_fail(__FILE__, line, "rank %d: expected id %lld, got %lld", i, (long long)ref[i].id,
                         (long long)ids[i]);
            return false;
        }
    }
    return true;
}

TEST(vindex_exact_equals_brute_force)
{
    const int n = 3000, dim = 72, k = 10;
    float *x = make_random(n, dim, 11);
    float *q = make_random(20, dim, 12);
    int64_t *vid = malloc(n * sizeof *vid);
    hh_vindex_t *ix = NULL;
    ASSERT_TRUE(x && q && vid);
    ASSERT_OK(hh_vindex_create(&ix, dim, NULL));
    for (int i = 0; i < n; i++) {
        vid[i] = 1000 + (int64_t)i * 3;     /* ids unrelated to slots */
        ASSERT_OK(hh_vindex_add(ix, vid[i], x + (size_t)i * dim));
    }
    ASSERT_EQ_INT(hh_vindex_size(ix), n);
    ref_hit_t ref[64];
    int64_t ids[64];
    float sc[64];
    int nf;
    for (int j = 0; j < 20; j++) {
        const float *qj = q + (size_t)j * dim;
        ASSERT_OK(hh_vindex_search(ix, qj, k, NULL, ids, sc, &nf));
        int nr = brute_force(x, vid, n, dim, qj, k, NULL, NULL, ref);
        if (!same_as_reference(ids, sc, nf, ref, nr, __LINE__)) break;
        /* k = 64 too, and the result is sorted best first */
        ASSERT_OK(hh_vindex_search(ix, qj, 64, NULL, ids, sc, &nf));
        nr = brute_force(x, vid, n, dim, qj, 64, NULL, NULL, ref);
        if (!same_as_reference(ids, sc, nf, ref, nr, __LINE__)) break;
        for (int i = 1; i < nf; i++) ASSERT_LE(sc[i], sc[i - 1]);
    }
    /* k larger than the index: everything comes back */
    hh_vindex_t *small = NULL;
    ASSERT_OK(hh_vindex_create(&small, dim, NULL));
    for (int i = 0; i < 5; i++) ASSERT_OK(hh_vindex_add(small, i, x + (size_t)i * dim));
    ASSERT_OK(hh_vindex_search(small, q, 10, NULL, ids, sc, &nf));
    ASSERT_EQ_INT(nf, 5);
    hh_vindex_free(small);
    hh_vindex_free(ix);
    free(x);
    free(q);
    free(vid);
}

/* --- filters ----------------------------------------------------------------- */

typedef struct { const int64_t *ids; size_t n; } idset_t;

static bool allow_in_set(int64_t id, void *ctx)
{
    const idset_t *s = ctx;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->n && s->ids[lo] == id;
}

/* Runs one filtered search in `mode` and checks it against the brute force
 * over the allowed ids; every id returned must be allowed. */
static bool check_filtered(hh_vindex_t *ix, const float *x, const int64_t *vid, int n, int dim, const float *q,
                           int k, const hh_vindex_filter_t *f, bool (*allow)(int64_t, void *), void *ctx,
                           hh_vindex_mode_t mode, bool must_equal, int line)
{
    int64_t ids[64];
    float sc[64];
    ref_hit_t ref[64];
    int nf = -1;
    hh_vindex_search_opts_t o = { .mode = mode };
    int rc = hh_vindex_search_ex(ix, q, k, f, &o, ids, sc, &nf);
    if (rc != 0) {
        hh_test_fail(__FILE__, line, "search: expected 0, got %d", rc);
        return false;
    }
    for (int i = 0; i < nf; i++)
        if (!allow(ids[i], ctx)) {
            hh_test_fail(__FILE__, line, "disallowed id %lld returned at rank %d", (long long)ids[i], i);
            return false;
        }
    int nr = brute_force(x, vid, n, dim, q, k, allow, ctx, ref);
    if (must_equal) return same_as_reference(ids, sc, nf, ref, nr, line);
    if (nf != nr) {
        hh_test_fail(__FILE__, line, "n_found: expected %d, got %d", nr, nf);
        return false;
    }
    return true;
}

TEST(vindex_filter_ids_bitmap_callback)
{
    const int n = 4000, dim = 48, k = 10;
    float *x = make_clustered(n, dim, 40, 0.8f, 21);
    float *q = make_clustered(10, dim, 40, 0.8f, 22);
    int64_t *vid = malloc(n * sizeof *vid);
    int64_t *even = malloc(n * sizeof *even);
    uint64_t bits[(4000 + 63) / 64] = { 0 };
    ASSERT_TRUE(x && q && vid && even);
    hh_vindex_params_t p = hh_vindex_default_params();
    p.exact_threshold = 1000;       /* AUTO goes to the graph for broad filters */
    p.filter_exact_min = 100;
    hh_vindex_t *ix = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, &p));
    size_t n_even = 0;
    for (int i = 0; i < n; i++) {
        vid[i] = i;
        ASSERT_OK(hh_vindex_add(ix, i, x + (size_t)i * dim));
        if (i % 2 == 0) {
            even[n_even++] = i;
            bits[i / 64] |= 1ull << (i % 64);
        }
    }
    hh_vindex_filter_t f_ids = { .kind = HH_VINDEX_FILTER_IDS, .ids = even, .n_ids = n_even };
    hh_vindex_filter_t f_bits = { .kind = HH_VINDEX_FILTER_BITMAP, .bits = bits, .base = 0, .n_bits = (size_t)n };
    hh_vindex_filter_t f_fn = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_even };
    hh_vindex_filter_t f_few = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_mod7 };
    for (int j = 0; j < 10; j++) {
        const float *qj = q + (size_t)j * dim;
        /* exact: identical to the brute force over allowed ids */
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, qj, k, &f_ids, allow_even, NULL, HH_VINDEX_EXACT, true, __LINE__));
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, qj, k, &f_bits, allow_even, NULL, HH_VINDEX_EXACT, true, __LINE__));
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, qj, k, &f_fn, allow_even, NULL, HH_VINDEX_EXACT, true, __LINE__));
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, qj, k, &f_few, allow_mod7, NULL, HH_VINDEX_AUTO, true, __LINE__));
        /* graph: only allowed ids, a full result */
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, qj, k, &f_ids, allow_even, NULL, HH_VINDEX_GRAPH, false, __LINE__));
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, qj, k, &f_bits, allow_even, NULL, HH_VINDEX_AUTO, false, __LINE__));
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, qj, k, &f_few, allow_mod7, NULL, HH_VINDEX_GRAPH, false, __LINE__));
    }
    /* a bitmap with an offset base covering ids 1000..1063 only */
    uint64_t one_word = 0xffffffffffffffffull;
    hh_vindex_filter_t f_win = { .kind = HH_VINDEX_FILTER_BITMAP, .bits = &one_word, .base = 1000, .n_bits = 64 };
    int64_t ids[10];
    float sc[10];
    int nf;
    ASSERT_OK(hh_vindex_search(ix, q, 10, &f_win, ids, sc, &nf));
    ASSERT_EQ_INT(nf, 10);
    for (int i = 0; i < nf; i++) {
        ASSERT_GE(ids[i], 1000);
        ASSERT_LE(ids[i], 1063);
    }
    /* an empty allowed list allows nothing */
    hh_vindex_filter_t f_none = { .kind = HH_VINDEX_FILTER_IDS, .ids = NULL, .n_ids = 0 };
    ASSERT_OK(hh_vindex_search(ix, q, 10, &f_none, ids, sc, &nf));
    ASSERT_EQ_INT(nf, 0);
    hh_vindex_free(ix);
    free(x);
    free(q);
    free(vid);
    free(even);
}

/* Issue 12, finding 4 on the dense side: with the access filter, which
 * allowed vectors a search returns must not depend on vectors the filter
 * excludes (another department's). One index holds department A's 1500
 * vectors only, another the same 1500 interleaved with 3000 of department
 * B. The graph search (what AUTO picked above its thresholds) finds
 * different allowed neighbours for some queries: the channel. SCOPED (what
 * retrieval uses) returns bit-identical ids and scores from both. */
static bool allow_below_1500(int64_t id, void *ctx) { (void)ctx; return id < 1500; }

TEST(vindex_scoped_ignores_excluded_vectors)
{
    const int dim = 32, na = 1500, nb = 3000, nq = 60, k = 10;
    hh_vindex_params_t p = hh_vindex_default_params();
    p.exact_threshold = 0;         /* the graph from the first vector on */
    p.M = 4;
    p.ef_construction = 16;
    p.ef_search = 10;
    p.filter_exact_fraction = 0.0f;
    p.filter_exact_min = 0;
    float *a = make_clustered(na, dim, 50, 0.6f, 11), *b = make_clustered(nb, dim, 50, 0.6f, 12);
    float *q = make_clustered(nq, dim, 50, 0.6f, 13);
    ASSERT_TRUE(a && b && q);
    hh_vindex_t *only_a = NULL, *a_and_b = NULL;
    ASSERT_OK(hh_vindex_create(&only_a, dim, &p));
    ASSERT_OK(hh_vindex_create(&a_and_b, dim, &p));
    for (int i = 0; i < na; i++)
        ASSERT_OK(hh_vindex_add(only_a, i, a + (size_t)i * dim));
    for (int i = 0, j = 0; i < na || j < nb;) {   /* A and B interleaved, 1:2 */
        if (i < na) {
            ASSERT_OK(hh_vindex_add(a_and_b, i, a + (size_t)i * dim));
            i++;
        }
        for (int r = 0; r < 2 && j < nb; r++, j++)
            ASSERT_OK(hh_vindex_add(a_and_b, 1500 + j, b + (size_t)j * dim));
    }
    hh_vindex_filter_t f = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_below_1500 };
    int differ_graph = 0;
    for (int t = 0; t < nq; t++) {
        const float *qq = q + (size_t)t * dim;
        int64_t id1[16], id2[16];
        float s1[16], s2[16];
        int n1 = -1, n2 = -1;
        hh_vindex_search_opts_t g = { .mode = HH_VINDEX_GRAPH }, sc = { .mode = HH_VINDEX_SCOPED };
        ASSERT_OK(hh_vindex_search_ex(only_a, qq, k, &f, &g, id1, s1, &n1));
        ASSERT_OK(hh_vindex_search_ex(a_and_b, qq, k, &f, &g, id2, s2, &n2));
        differ_graph += n1 != n2 || memcmp(id1, id2, (size_t)n1 * sizeof *id1) != 0;
        ASSERT_OK(hh_vindex_search_ex(only_a, qq, k, &f, &sc, id1, s1, &n1));
        ASSERT_OK(hh_vindex_search_ex(a_and_b, qq, k, &f, &sc, id2, s2, &n2));
        ASSERT_EQ_INT(n1, k);
        ASSERT_EQ_INT(n2, n1);
        for (int i = 0; i < n1; i++) {
            ASSERT_EQ_INT(id2[i], id1[i]);
            ASSERT_TRUE(memcmp(&s2[i], &s1[i], sizeof s1[i]) == 0);
        }
    }
    printf("    graph search: %d of %d queries returned other allowed neighbours with B's vectors present; "
           "scoped: 0\n", differ_graph, nq);
    ASSERT_TRUE(differ_graph > 0);   /* the channel the scoped mode closes is real here */
    hh_vindex_free(only_a);
    hh_vindex_free(a_and_b);
    free(a);
    free(b);
    free(q);
}

TEST(vindex_filter_allowed_ids_far_away)
{
    /* Two opposite clusters: the query sits in cluster A; only 30 ids of the
     * far cluster B are allowed. Every search mode must return exactly those
     * 30 (k = 40) and never an id of A, although all of A ranks higher. */
    const int n = 3000, dim = 32;
    uint64_t s = 31;
    float *x = malloc((size_t)n * dim * sizeof *x);
    int64_t *vid = malloc(n * sizeof *vid);
    int64_t allowed[30];
    ASSERT_TRUE(x && vid);
    for (int i = 0; i < n; i++) {
        float *xi = x + (size_t)i * dim;
        for (int d = 0; d < dim; d++) xi[d] = 0.15f * rng_normal(&s);
        xi[0] += (i < n - 100) ? 1.0f : -1.0f;      /* the last 100 form cluster B */
        normalize(xi, dim);
        vid[i] = i;
    }
    for (int i = 0; i < 30; i++) allowed[i] = n - 100 + 2 * i;
    hh_vindex_params_t p = hh_vindex_default_params();
    p.exact_threshold = 500;
    hh_vindex_t *ix = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, &p));
    for (int i = 0; i < n; i++) ASSERT_OK(hh_vindex_add(ix, vid[i], x + (size_t)i * dim));
    float q[32] = { 1.0f };
    idset_t set = { allowed, 30 };
    hh_vindex_filter_t f = { .kind = HH_VINDEX_FILTER_IDS, .ids = allowed, .n_ids = 30 };
    hh_vindex_filter_t ff = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_in_set, .ctx = &set };
    for (int m = 0; m < 3; m++) {
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, q, 40, &f, allow_in_set, &set, (hh_vindex_mode_t)m, true, __LINE__));
        ASSERT_TRUE(check_filtered(ix, x, vid, n, dim, q, 40, &ff, allow_in_set, &set, (hh_vindex_mode_t)m, true, __LINE__));
    }
    hh_vindex_free(ix);
    free(x);
    free(vid);
}

/* --- remove / replace / compaction ------------------------------------------------ */

TEST(vindex_remove_replace_compact)
{
    const int n = 2000, dim = 24;
    float *x = make_clustered(n, dim, 20, 0.7f, 41);
    int64_t *vid = malloc(n * sizeof *vid);
    ASSERT_TRUE(x && vid);
    hh_vindex_params_t p = hh_vindex_default_params();
    p.exact_threshold = 100;        /* AUTO uses the graph */
    hh_vindex_t *ix = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, &p));
    for (int i = 0; i < n; i++) {
        vid[i] = i;
        ASSERT_OK(hh_vindex_add(ix, i, x + (size_t)i * dim));
    }
    /* remove every third id: never returned again, by exact or graph search */
    for (int i = 0; i < n; i += 3) ASSERT_OK(hh_vindex_remove(ix, i));
    ASSERT_EQ_INT(hh_vindex_remove(ix, 0), HH_ENOENT);
    ASSERT_EQ_INT(hh_vindex_size(ix), n - (n + 2) / 3);
    int64_t ids[50];
    float sc[50];
    int nf;
    float got[24];
    ASSERT_EQ_INT(hh_vindex_get(ix, 3, got), HH_ENOENT);
    ASSERT_OK(hh_vindex_get(ix, 4, got));
    ASSERT_NEAR(got[5], x[4 * dim + 5], 0);
    for (int j = 0; j < 30; j++) {
        const float *qj = x + (size_t)(j * 61 % n) * dim;   /* removed and kept ids as queries */
        for (int m = 1; m <= 2; m++) {
            hh_vindex_search_opts_t o = { .mode = (hh_vindex_mode_t)m };
            ASSERT_OK(hh_vindex_search_ex(ix, qj, 50, NULL, &o, ids, sc, &nf));
            ASSERT_EQ_INT(nf, 50);
            for (int i = 0; i < nf; i++) ASSERT_NE_INT(ids[i] % 3, 0);
        }
    }
    /* replace: same id, new vector; size unchanged, the new vector is found */
    size_t before = hh_vindex_size(ix);
    ASSERT_OK(hh_vindex_add(ix, 5, x + 7 * dim));
    ASSERT_EQ_INT(hh_vindex_size(ix), before);
    ASSERT_OK(hh_vindex_get(ix, 5, got));
    ASSERT_NEAR(got[0], x[7 * dim], 0);
    /* remove until the dead reach half: compaction; results still exact */
    for (int i = 1; i < n; i += 3) ASSERT_OK(hh_vindex_remove(ix, i));
    size_t left = hh_vindex_size(ix);
    ASSERT_EQ_INT(left, n - (n + 2) / 3 - (n + 1) / 3);
    int64_t *kept = malloc(n * sizeof *kept);
    float *kx = malloc((size_t)n * dim * sizeof *kx);
    int nk = 0;
    for (int i = 2; i < n; i += 3) {
        kept[nk] = i;
        memcpy(kx + (size_t)nk * dim, i == 5 ? x + 7 * dim : x + (size_t)i * dim, dim * sizeof(float));
        nk++;
    }
    ASSERT_EQ_INT(nk, left);
    ref_hit_t ref[50];
    for (int j = 0; j < 20; j++) {
        const float *qj = x + (size_t)(j * 97 % n) * dim;
        hh_vindex_search_opts_t o = { .mode = HH_VINDEX_EXACT };
        ASSERT_OK(hh_vindex_search_ex(ix, qj, 20, NULL, &o, ids, sc, &nf));
        int nr = brute_force(kx, kept, nk, dim, qj, 20, NULL, NULL, ref);
        if (!same_as_reference(ids, sc, nf, ref, nr, __LINE__)) break;
        o.mode = HH_VINDEX_GRAPH;
        ASSERT_OK(hh_vindex_search_ex(ix, qj, 20, NULL, &o, ids, sc, &nf));
        ASSERT_EQ_INT(nf, 20);
        for (int i = 0; i < nf; i++) ASSERT_EQ_INT(ids[i] % 3, 2);
    }
    ASSERT_OK(hh_vindex_compact(ix));
    ASSERT_EQ_INT(hh_vindex_size(ix), left);
    /* remove everything */
    for (int i = 0; i < nk; i++) ASSERT_OK(hh_vindex_remove(ix, kept[i]));
    ASSERT_EQ_INT(hh_vindex_size(ix), 0);
    ASSERT_OK(hh_vindex_search(ix, x, 5, NULL, ids, sc, &nf));
    ASSERT_EQ_INT(nf, 0);
    hh_vindex_free(ix);
    free(kept);
    free(kx);
    free(x);
    free(vid);
}

/* --- persistence ----------------------------------------------------------------- */

static void path_in_tmp(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", hh_test_tmpdir(), name);
}

TEST(vindex_save_load_round_trip)
{
    const int n = 1500, dim = 40;
    float *x = make_clustered(n + 100, dim, 15, 0.8f, 51);
    ASSERT_TRUE(x != NULL);
    hh_vindex_params_t p = hh_vindex_default_params();
    p.exact_threshold = 200;
    hh_vindex_t *ix = NULL, *back = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, &p));
    for (int i = 0; i < n; i++) ASSERT_OK(hh_vindex_add(ix, 7 * (int64_t)i - 3000, x + (size_t)i * dim));
    for (int i = 0; i < 100; i++) ASSERT_OK(hh_vindex_remove(ix, 7 * (int64_t)(i * 5) - 3000));
    char path[512];
    path_in_tmp(path, sizeof path, "round.vidx");
    hh_err_t err;
    ASSERT_OK(hh_vindex_save(ix, path, 0xfeedbeefcafeull, &err));
    uint64_t tag = 0;
    int rc = hh_vindex_load(path, NULL, &back, &tag, &err);
    if (rc) hh_test_fail(__FILE__, __LINE__, "load: %s", err.msg);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(tag, 0xfeedbeefcafeull);
    ASSERT_EQ_INT(hh_vindex_size(back), hh_vindex_size(ix));
    ASSERT_EQ_INT(hh_vindex_dim(back), dim);
    /* identical answers in every mode (same graph, same vectors) */
    int64_t a_ids[20], b_ids[20];
    float a_sc[20], b_sc[20];
    int na, nb;
    for (int j = 0; j < 20; j++) {
        const float *qj = x + (size_t)(n + j) * dim;
        for (int m = 0; m < 3; m++) {
            hh_vindex_search_opts_t o = { .mode = (hh_vindex_mode_t)m };
            ASSERT_OK(hh_vindex_search_ex(ix, qj, 20, NULL, &o, a_ids, a_sc, &na));
            ASSERT_OK(hh_vindex_search_ex(back, qj, 20, NULL, &o, b_ids, b_sc, &nb));
            ASSERT_EQ_INT(nb, na);
            for (int i = 0; i < na; i++) {
                ASSERT_EQ_INT(b_ids[i], a_ids[i]);
                ASSERT_NEAR(b_sc[i], a_sc[i], 0);
            }
        }
    }
    /* the loaded index keeps working: same adds give the same graph */
    for (int i = n; i < n + 50; i++) {
        ASSERT_OK(hh_vindex_add(ix, 100000 + i, x + (size_t)i * dim));
        ASSERT_OK(hh_vindex_add(back, 100000 + i, x + (size_t)i * dim));
    }
    hh_vindex_search_opts_t og = { .mode = HH_VINDEX_GRAPH, .ef_search = 16 };
    for (int j = 0; j < 10; j++) {
        const float *qj = x + (size_t)(j * 13) * dim;
        ASSERT_OK(hh_vindex_search_ex(ix, qj, 10, NULL, &og, a_ids, a_sc, &na));
        ASSERT_OK(hh_vindex_search_ex(back, qj, 10, NULL, &og, b_ids, b_sc, &nb));
        ASSERT_EQ_INT(nb, na);
        for (int i = 0; i < na; i++) ASSERT_EQ_INT(b_ids[i], a_ids[i]);
    }
    /* an empty index round-trips too */
    hh_vindex_t *e = NULL, *e2 = NULL;
    ASSERT_OK(hh_vindex_create(&e, 3, NULL));
    ASSERT_OK(hh_vindex_save(e, path, 1, &err));
    ASSERT_OK(hh_vindex_load(path, NULL, &e2, NULL, &err));
    ASSERT_EQ_INT(hh_vindex_size(e2), 0);
    hh_vindex_free(e);
    hh_vindex_free(e2);
    hh_vindex_free(ix);
    hh_vindex_free(back);
    free(x);
}

static int write_bytes(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

TEST(vindex_corrupt_file_rejected)
{
    const int n = 300, dim = 16;
    float *x = make_random(n, dim, 61);
    ASSERT_TRUE(x != NULL);
    hh_vindex_t *ix = NULL, *back = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, NULL));
    for (int i = 0; i < n; i++) ASSERT_OK(hh_vindex_add(ix, i, x + (size_t)i * dim));
    char path[512], bad[512];
    path_in_tmp(path, sizeof path, "good.vidx");
    path_in_tmp(bad, sizeof bad, "bad.vidx");
    hh_err_t err;
    ASSERT_OK(hh_vindex_save(ix, path, 9, &err));
    size_t size = 0;
    unsigned char *buf = hh_test_read_file(path, &size);
    ASSERT_TRUE(buf != NULL && size > 200);

    /* one flipped bit in the vectors: checksum mismatch */
    buf[size / 2] ^= 0x10;
    ASSERT_OK(write_bytes(bad, buf, size));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_EFORMAT);
    ASSERT_TRUE(strstr(err.msg, "checksum") != NULL);
    ASSERT_TRUE(back == NULL);
    buf[size / 2] ^= 0x10;
    /* a flipped bit in the stored checksum itself */
    buf[size - 1] ^= 1;
    ASSERT_OK(write_bytes(bad, buf, size));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_EFORMAT);
    buf[size - 1] ^= 1;
    /* truncated anywhere */
    ASSERT_OK(write_bytes(bad, buf, size - 7));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_ETRUNC);
    ASSERT_OK(write_bytes(bad, buf, 40));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_ETRUNC);
    /* header promising more vectors than the file holds: no huge allocation */
    unsigned char save = buf[16];
    buf[19] = 0x7f;                        /* n_slots (offset 16) ~ 2^31 */
    ASSERT_OK(write_bytes(bad, buf, size));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_ETRUNC);
    buf[19] = 0;
    buf[16] = save;
    /* foreign file, wrong version */
    buf[0] = 'X';
    ASSERT_OK(write_bytes(bad, buf, size));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_EFORMAT);
    ASSERT_TRUE(strstr(err.msg, "magic") != NULL);
    buf[0] = 'H';
    buf[8] = 99;
    ASSERT_OK(write_bytes(bad, buf, size));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_EFORMAT);
    buf[8] = 1;
    ASSERT_OK(write_bytes(bad, buf, 0));
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_ETRUNC);
    /* missing file */
    path_in_tmp(bad, sizeof bad, "nonexistent.vidx");
    ASSERT_EQ_INT(hh_vindex_load(bad, NULL, &back, NULL, &err), HH_ENOENT);
    /* and the intact bytes still load */
    path_in_tmp(bad, sizeof bad, "again.vidx");
    ASSERT_OK(write_bytes(bad, buf, size));
    ASSERT_OK(hh_vindex_load(bad, NULL, &back, NULL, &err));
    ASSERT_EQ_INT(hh_vindex_size(back), n);
    hh_vindex_free(back);
    hh_vindex_free(ix);
    free(buf);
    free(x);
}

/* --- HNSW recall ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST(vindex_hnsw_recall_at_10)
{
    /* 20k x 128 clustered vectors; recall@10 of the graph against the exact
     * scan, unfiltered and with a filter allowing half of the ids. */
    const int n = 20000, dim = 128, nq = 200, k = 10;
    /* queries from the same distribution (same centers): the last nq rows */
    float *x = make_clustered(n + nq, dim, 200, 1.0f, 71);
    ASSERT_TRUE(x != NULL);
    const float *q = x + (size_t)n * dim;
    hh_vindex_params_t p = hh_vindex_default_params();
    p.exact_threshold = 1000;
    p.ef_construction = 100;        /* keeps make test fast; the benchmark uses the default */
    p.ef_search = 64;
    hh_vindex_t *ix = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, &p));
    double t0 = now_s();
    for (int i = 0; i < n; i++) ASSERT_OK(hh_vindex_add(ix, i, x + (size_t)i * dim));
    double t_build = now_s() - t0;
    hh_vindex_filter_t half = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_even };
    double recall[2];
    double t_graph = 0, t_exact = 0;
    for (int pass = 0; pass < 2; pass++) {
        const hh_vindex_filter_t *f = pass ? &half : NULL;
        int hit = 0, total = 0;
        for (int j = 0; j < nq; j++) {
            const float *qj = q + (size_t)j * dim;
            int64_t e_ids[10], g_ids[10];
            float e_sc[10], g_sc[10];
            int ne, ng;
            hh_vindex_search_opts_t oe = { .mode = HH_VINDEX_EXACT }, og = { .mode = HH_VINDEX_AUTO };
            double a = now_s();
            ASSERT_OK(hh_vindex_search_ex(ix, qj, k, f, &oe, e_ids, e_sc, &ne));
            double b = now_s();
            ASSERT_OK(hh_vindex_search_ex(ix, qj, k, f, &og, g_ids, g_sc, &ng));
            t_exact += b - a;
            t_graph += now_s() - b;
            ASSERT_EQ_INT(ne, k);
            ASSERT_EQ_INT(ng, k);
            for (int i = 0; i < ng; i++) {
                if (f) ASSERT_EQ_INT(g_ids[i] % 2, 0);
                for (int e = 0; e < ne; e++)
                    if (g_ids[i] == e_ids[e]) {
                        hit++;
                        break;
                    }
            }
            total += k;
        }
        recall[pass] = (double)hit / total;
    }
    fprintf(stderr, "  vindex 20k x 128: build %.2f s, recall@10 %.4f (50%% filter %.4f), "
            "mean search exact %.3f ms graph %.3f ms\n", t_build, recall[0], recall[1],
            t_exact * 1e3 / (2 * nq), t_graph * 1e3 / (2 * nq));
    ASSERT_GE(recall[0], 0.98);
    ASSERT_GE(recall[1], 0.98);
    hh_vindex_free(ix);
    free(x);
}

/* --- concurrency -------------------------------------------------------------------- */

typedef struct {
    hh_vindex_t *ix;
    const float *q;
    int          dim, n_queries, max_id;
    int          bad;       /* searches that failed or returned garbage */
    int          done;
} searcher_t;

static void *searcher(void *arg)
{
    searcher_t *s = arg;
    int64_t ids[10];
    float sc[10];
    for (int j = 0; j < s->n_queries; j++) {
        int nf;
        hh_vindex_search_opts_t o = { .mode = (hh_vindex_mode_t)(j % 3) };
        hh_vindex_filter_t f = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_even };
        if (hh_vindex_search_ex(s->ix, s->q + (size_t)(j % 50) * s->dim, 10, (j & 4) ? &f : NULL, &o, ids, sc,
                                &nf) != 0) {
            s->bad++;
            continue;
        }
        for (int i = 0; i < nf; i++)
            if (ids[i] < 0 || ids[i] >= s->max_id || (i > 0 && sc[i] > sc[i - 1]) || ((j & 4) && ids[i] % 2))
                s->bad++;
        s->done++;
    }
    return NULL;
}

TEST(vindex_concurrent_search_while_adding)
{
    const int n0 = 1000, n_add = 1500, dim = 32, n_threads = 3;
    float *x = make_clustered(n0 + n_add, dim, 30, 0.8f, 81);
    float *q = make_clustered(50, dim, 30, 0.8f, 82);
    ASSERT_TRUE(x && q);
    hh_vindex_params_t p = hh_vindex_default_params();
    p.exact_threshold = 1200;       /* the searches cross from exact to graph midway */
    p.ef_construction = 64;
    hh_vindex_t *ix = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, &p));
    for (int i = 0; i < n0; i++) ASSERT_OK(hh_vindex_add(ix, i, x + (size_t)i * dim));
    searcher_t s[3];
    pthread_t th[3];
    for (int t = 0; t < n_threads; t++) {
        s[t] = (searcher_t){ ix, q, dim, 600, n0 + n_add, 0, 0 };
        ASSERT_EQ_INT(pthread_create(&th[t], NULL, searcher, &s[t]), 0);
    }
    int add_fail = 0;
    for (int i = n0; i < n0 + n_add; i++) {
        if (hh_vindex_add(ix, i, x + (size_t)i * dim) != 0) add_fail++;
        if (i % 100 == 0 && hh_vindex_remove(ix, i - 500) != 0) add_fail++;
    }
    for (int t = 0; t < n_threads; t++) pthread_join(th[t], NULL);
    ASSERT_EQ_INT(add_fail, 0);
    for (int t = 0; t < n_threads; t++) {
        ASSERT_EQ_INT(s[t].bad, 0);
        ASSERT_EQ_INT(s[t].done, 600);
    }
    ASSERT_EQ_INT(hh_vindex_size(ix), n0 + n_add - n_add / 100);
    hh_vindex_free(ix);
    free(x);
    free(q);
}

typedef struct {
    const int64_t *ids;
    size_t         n;
} id_set_t;

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool allow_id_set(int64_t id, void *ctx)
{
    const id_set_t *s = ctx;
    return bsearch(&id, s->ids, s->n, sizeof id, cmp_id) != NULL;
}

/* The scoped search with an id list (what retrieval passes: the readable
 * chunk ids, random in [1, 2^53)) scans the allowed vectors in slot order,
 * not list order: the hits - ids and scores, ties included (the lower id
 * first) - equal the exact scan over the same set given as a callback
 * (which walks the slots itself) and the brute-force reference. */
TEST(vindex_scoped_id_list_order_independent)
{
    const int dim = 48, n = 3000, nq = 40, k = 10;
    float *x = make_clustered(n, dim, 30, 0.5f, 21), *q = make_clustered(nq, dim, 30, 0.5f, 22);
    int64_t *ids = malloc((size_t)n * sizeof *ids), *allowed = malloc((size_t)n * sizeof *allowed);
    ASSERT_TRUE(x && q && ids && allowed);
    uint64_t s = 0x5eed;
    for (int i = 0; i < n; i++)
        ids[i] = (int64_t)(rng_u64(&s) >> 11) + 1;   /* random, as chunk ids are */
    for (int i = 1; i < n; i += 7)                    /* exact ties: copies of other vectors */
        memcpy(x + (size_t)i * dim, x + (size_t)(i - 1) * dim, (size_t)dim * sizeof *x);
    hh_vindex_t *ix = NULL;
    ASSERT_OK(hh_vindex_create(&ix, dim, NULL));
    for (int i = 0; i < n; i++)
        ASSERT_OK(hh_vindex_add(ix, ids[i], x + (size_t)i * dim));
    size_t na = 0;
    for (int i = 0; i < n; i++)
        if (rng_u64(&s) % 2)
            allowed[na++] = ids[i];
    qsort(allowed, na, sizeof *allowed, cmp_id);
    ASSERT_TRUE(na > 1000);
    id_set_t set = { allowed, na };
    hh_vindex_filter_t fl = { .kind = HH_VINDEX_FILTER_IDS, .ids = allowed, .n_ids = na };
    hh_vindex_filter_t fn = { .kind = HH_VINDEX_FILTER_FN, .allow = allow_id_set, .ctx = &set };
    hh_vindex_search_opts_t scoped = { .mode = HH_VINDEX_SCOPED }, exact = { .mode = HH_VINDEX_EXACT };
    int ties = 0;
    for (int t = 0; t < nq; t++) {
        /* every 4th query is a stored vector that has a copy: a tie at rank 1 */
        const float *qq = t % 4 ? q + (size_t)t * dim : x + (size_t)(7 * t + 1) * dim;
        int64_t i1[16], i2[16];
        float s1[16], s2[16];
        int n1 = -1, n2 = -1;
        ASSERT_OK(hh_vindex_search_ex(ix, qq, k, &fl, &scoped, i1, s1, &n1));
        ASSERT_OK(hh_vindex_search_ex(ix, qq, k, &fn, &exact, i2, s2, &n2));
        ASSERT_EQ_INT(n1, k);
        ASSERT_EQ_INT(n2, n1);
        for (int i = 0; i < n1; i++) {
            ASSERT_EQ_INT(i1[i], i2[i]);
            ASSERT_TRUE(memcmp(&s1[i], &s2[i], sizeof s1[i]) == 0);
            ASSERT_TRUE(allow_id_set(i1[i], &set));
            if (i > 0 && s1[i] == s1[i - 1]) {
                ties++;
                ASSERT_TRUE(i1[i] > i1[i - 1]);   /* the lower id first */
            }
        }
        ref_hit_t ref[16];
        int nr = brute_force(x, ids, n, dim, qq, k, allow_id_set, &set, ref);
        if (!same_as_reference(i1, s1, n1, ref, nr, __LINE__))
            return;
    }
    printf("    %zu allowed of %d, %d tied neighbours checked\n", na, n, ties);
    ASSERT_TRUE(ties > 0);
    hh_vindex_free(ix);
    free(x);
    free(q);
    free(ids);
    free(allowed);
}
