/* vindex.c - dense vector index: slot storage, id map, exact top-k scan,
 * HNSW graph (insert, heuristic neighbor selection, filtered layer search),
 * compaction, checksummed save/load. Contract in vindex.h.
 *
 * Layout: every added vector gets a slot (0..n_slots); a slot's row, id,
 * level and links live in per-slot arrays. Removing marks the slot dead; the
 * graph keeps dead nodes as waypoints until compaction renumbers the live
 * slots and rebuilds the graph. Similarity is the raw dot product (higher is
 * better) everywhere. */
#include "kb/vindex.h"
#include "kb/vindex_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vindex files are little-endian; add byte swapping for this target"
#endif

#define VX_MAX_DIM      65536
#define VX_MAX_K        4096
#define VX_MAX_M        64
#define VX_MAX_EF       65536
#define VX_MAX_LEVEL    31
#define VX_MAX_SLOTS    0x7fffffffu
#define VX_NONE         UINT32_MAX
#define VX_COMPACT_MIN  64        /* never compact tiny indexes */

/* ------------------------------------------------------------------------
 * Dot kernels: scalar reference, per-ISA variants chosen once.
 * ------------------------------------------------------------------------ */

float hh_vindex_dot_ref(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

hh_vindex_dot_fn hh_vindex_dot_for(hh_isa_t isa)
{
    switch (isa) {
    case HH_ISA_SCALAR:
        return hh_vindex_dot_ref;
#if defined(__x86_64__)
    case HH_ISA_AVX2:
        return hh_cpu_supports(HH_ISA_AVX2) ? hh_vindex_dot_avx2 : NULL;
    case HH_ISA_AVX512:
        return hh_cpu_supports(HH_ISA_AVX512) ? hh_vindex_dot_avx512 : NULL;
#endif
    default:
        return NULL;
    }
}

static hh_vindex_dot_fn g_dot;            /* written once under g_dot_once */
static pthread_once_t g_dot_once = PTHREAD_ONCE_INIT;

static void dot_init(void)
{
    hh_vindex_dot_fn f = hh_vindex_dot_for(hh_cpu_isa());
    g_dot = f ? f : hh_vindex_dot_ref;
}

hh_vindex_dot_fn hh_vindex_dot_best(void)
{
    pthread_once(&g_dot_once, dot_init);
    return g_dot;
}

/* ------------------------------------------------------------------------
 * The index.
 * ------------------------------------------------------------------------ */

struct hh_vindex {
    int                dim;
    hh_vindex_params_t p;
    hh_vindex_dot_fn   dot;
    double             level_mult;  /* 1 / ln(M) */

    uint32_t  n_slots, cap, n_live;
    float    *vecs;         /* (cap, dim), owned */
    int64_t  *slot_id;      /* (cap), owned */
    uint8_t  *dead;         /* (cap) 1: removed or replaced, owned */
    uint8_t  *level;        /* (cap) top layer of the node, owned */
    uint32_t *links0;       /* (cap, 1 + 2M): count, then neighbor slots on layer 0, owned */
    uint32_t **links_up;    /* (cap) NULL, or (level, 1 + M) for layers 1..level; array and rows owned */
    uint32_t  entry;        /* entry node, VX_NONE while empty */
    int       max_level;
    uint64_t  rng;          /* level generator state */

    /* id -> slot of live ids: open addressing, linear probing,
     * backward-shift deletion; map_val VX_NONE marks an empty cell. */
    int64_t  *map_key;      /* (map_cap), owned */
    uint32_t *map_val;      /* (map_cap), owned */
    uint32_t  map_cap;      /* power of two or 0 */

    /* Last: compaction moves everything above it (a held lock is never copied). */
    pthread_rwlock_t lock;
};

hh_vindex_params_t hh_vindex_default_params(void)
{
    hh_vindex_params_t p = {
        .exact_threshold = 20000,
        .M = 16,
        .ef_construction = 200,
        .ef_search = 128,
        .seed = 0x686f68656974ull,
        .filter_exact_fraction = 0.10f,
        .filter_exact_min = 4096,
    };
    return p;
}

static bool params_ok(const hh_vindex_params_t *p)
{
    return p->exact_threshold >= 0 && p->M >= 2 && p->M <= VX_MAX_M &&
           p->ef_construction >= 1 && p->ef_construction <= VX_MAX_EF &&
           p->ef_search >= 1 && p->ef_search <= VX_MAX_EF &&
           p->filter_exact_fraction >= 0.0f && p->filter_exact_fraction <= 1.0f &&
           p->filter_exact_min >= 0;
}

static inline const float *vec_at(const hh_vindex_t *ix, uint32_t v)
{
    return ix->vecs + (size_t)v * (size_t)ix->dim;
}

static inline uint32_t link_width(const hh_vindex_t *ix, int layer)
{
    return layer == 0 ? 1u + 2u * (uint32_t)ix->p.M : 1u + (uint32_t)ix->p.M;
}

/* Links of node v on layer (v's level >= layer): [0] count, [1..] slots. */
static inline uint32_t *links_at(const hh_vindex_t *ix, uint32_t v, int layer)
{
    if (layer == 0)
        return ix->links0 + (size_t)v * link_width(ix, 0);
    return ix->links_up[v] + (size_t)(layer - 1) * link_width(ix, layer);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int random_level(hh_vindex_t *ix)
{
    /* u in (0, 1]: level = floor(-ln(u) / ln(M)), the HNSW distribution. */
    double u = (double)((splitmix64(&ix->rng) >> 11) + 1) * 0x1p-53;
    double l = floor(-log(u) * ix->level_mult);
    return l > VX_MAX_LEVEL ? VX_MAX_LEVEL : (int)l;
}

/* --- id map ------------------------------------------------------------- */

static inline uint32_t map_home(const hh_vindex_t *ix, int64_t id)
{
    uint64_t z = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    z ^= z >> 29;
    return (uint32_t)z & (ix->map_cap - 1);
}

static uint32_t map_find(const hh_vindex_t *ix, int64_t id)
{
    if (ix->map_cap == 0)
        return VX_NONE;
    uint32_t mask = ix->map_cap - 1;
    for (uint32_t i = map_home(ix, id);; i = (i + 1) & mask) {
        if (ix->map_val[i] == VX_NONE) return VX_NONE;
        if (ix->map_key[i] == id) return ix->map_val[i];
    }
}

/* Inserts id (not present) with slot; the table has a free cell. */
static void map_insert_nogrow(hh_vindex_t *ix, int64_t id, uint32_t slot)
{
    uint32_t mask = ix->map_cap - 1;
    uint32_t i = map_home(ix, id);
    while (ix->map_val[i] != VX_NONE)
        i = (i + 1) & mask;
    ix->map_key[i] = id;
    ix->map_val[i] = slot;
}

/* Makes room for `count` live ids at load factor <= 1/2. */
static int map_reserve(hh_vindex_t *ix, uint32_t count)
{
    uint64_t need = (uint64_t)count * 2u;
    if (need <= ix->map_cap) return 0;
    uint64_t cap = ix->map_cap ? ix->map_cap : 64;
    while (cap < need) cap *= 2;
    if (cap > (1ull << 32) / 2) return HH_EFULL;
    int64_t *keys = malloc(cap * sizeof *keys);
    uint32_t *vals = malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return HH_ENOMEM;
    }
    memset(vals, 0xff, cap * sizeof *vals);
    int64_t *old_k = ix->map_key;
    uint32_t *old_v = ix->map_val;
    uint32_t old_cap = ix->map_cap;
    ix->map_key = keys;
    ix->map_val = vals;
    ix->map_cap = (uint32_t)cap;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old_v[i] != VX_NONE)
            map_insert_nogrow(ix, old_k[i], old_v[i]);
    free(old_k);
    free(old_v);
    return 0;
}

static void map_delete(hh_vindex_t *ix, int64_t id)
{
    if (ix->map_cap == 0) return;
    uint32_t mask = ix->map_cap - 1;
    uint32_t i = map_home(ix, id);
    for (;; i = (i + 1) & mask) {
        if (ix->map_val[i] == VX_NONE) return;
        if (ix->map_key[i] == id) break;
    }
    /* Backward shift: pull later entries of the probe run into the hole
     * unless their home lies cyclically in (hole, j]. */
    for (uint32_t j = i;;) {
        j = (j + 1) & mask;
        if (ix->map_val[j] == VX_NONE) break;
        uint32_t h = map_home(ix, ix->map_key[j]);
        bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            ix->map_key[i] = ix->map_key[j];
            ix->map_val[i] = ix->map_val[j];
            i = j;
        }
    }
    ix->map_val[i] = VX_NONE;
}

/* --- slot storage --------------------------------------------------------- */

/* Grows the per-slot arrays to hold `need` slots. On failure the arrays that
 * did grow stay grown (harmless); cap is raised only when all succeeded. */
static int slots_reserve(hh_vindex_t *ix, uint32_t need)
{
    if (need <= ix->cap) return 0;
    if (need > VX_MAX_SLOTS) return HH_EFULL;
    uint64_t cap = ix->cap ? ix->cap : 256;
    while (cap < need) cap *= 2;
    if (cap > VX_MAX_SLOTS) cap = VX_MAX_SLOTS;
    size_t n = (size_t)cap;
    void *p;
    if (!(p = realloc(ix->vecs, n * (size_t)ix->dim * sizeof(float)))) return HH_ENOMEM;
    ix->vecs = p;
    if (!(p = realloc(ix->slot_id, n * sizeof(int64_t)))) return HH_ENOMEM;
    ix->slot_id = p;
    if (!(p = realloc(ix->dead, n))) return HH_ENOMEM;
    ix->dead = p;
    if (!(p = realloc(ix->level, n))) return HH_ENOMEM;
    ix->level = p;
    if (!(p = realloc(ix->links0, n * link_width(ix, 0) * sizeof(uint32_t)))) return HH_ENOMEM;
    ix->links0 = p;
    if (!(p = realloc(ix->links_up, n * sizeof(uint32_t *)))) return HH_ENOMEM;
    ix->links_up = p;
    ix->cap = (uint32_t)cap;
    return 0;
}

static void storage_free(hh_vindex_t *ix)
{
    if (ix->links_up)
        for (uint32_t v = 0; v < ix->n_slots; v++)
            free(ix->links_up[v]);
    free(ix->vecs);
    free(ix->slot_id);
    free(ix->dead);
    free(ix->level);
    free(ix->links0);
    free(ix->links_up);
    free(ix->map_key);
    free(ix->map_val);
}

/* Index with no storage and no lock: the common part of create, load and
 * compaction's scratch index. */
static void init_empty(hh_vindex_t *ix, int dim, const hh_vindex_params_t *p)
{
    memset(ix, 0, sizeof *ix);
    ix->dim = dim;
    ix->p = *p;
    ix->dot = hh_vindex_dot_best();
    ix->level_mult = 1.0 / log((double)p->M);
    ix->entry = VX_NONE;
    ix->max_level = -1;
    ix->rng = p->seed;
}

static int lock_init(hh_vindex_t *ix)
{
    /* Writer-preferring: ingestion must not starve behind steady searches. */
    pthread_rwlockattr_t a;
    if (pthread_rwlockattr_init(&a) != 0) return HH_ENOMEM;
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&ix->lock, &a);
    pthread_rwlockattr_destroy(&a);
    return rc == 0 ? 0 : HH_ENOMEM;
}

int hh_vindex_create(hh_vindex_t **out, int dim, const hh_vindex_params_t *params)
{
    if (!out) return HH_EINVAL;
    *out = NULL;
    hh_vindex_params_t p = params ? *params : hh_vindex_default_params();
    if (dim < 1 || dim > VX_MAX_DIM || !params_ok(&p)) return HH_EINVAL;
    hh_vindex_t *ix = malloc(sizeof *ix);
    if (!ix) return HH_ENOMEM;
    init_empty(ix, dim, &p);
    if (lock_init(ix) != 0) {
        free(ix);
        return HH_ENOMEM;
    }
    *out = ix;
    return 0;
}

void hh_vindex_free(hh_vindex_t *ix)
{
    if (!ix) return;
    storage_free(ix);
    pthread_rwlock_destroy(&ix->lock);
    free(ix);
}

/* ------------------------------------------------------------------------
 * Heaps and visited sets for the searches.
 * ------------------------------------------------------------------------ */

typedef struct vx_cand {
    float    s;
    uint32_t v;
} vx_cand_t;

/* Min-heap by s (a[0] has the lowest s). A max-heap pushes -s. */
typedef struct vx_heap {
    vx_cand_t *a;
    size_t     n, cap;
} vx_heap_t;

static int heap_push(vx_heap_t *h, float s, uint32_t v)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        vx_cand_t *a = realloc(h->a, cap * sizeof *a);
        if (!a) return HH_ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (h->a[up].s <= s) break;
        h->a[i] = h->a[up];
        i = up;
    }
    h->a[i] = (vx_cand_t){ s, v };
    return 0;
}

static vx_cand_t heap_pop(vx_heap_t *h)
{
    vx_cand_t top = h->a[0];
    vx_cand_t last = h->a[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h->a[c + 1].s < h->a[c].s) c++;
        if (last.s <= h->a[c].s) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n > 0) h->a[i] = last;
    return top;
}

typedef struct vx_scratch {
    vx_heap_t cand, res;
    uint64_t *visited;      /* (n_words) bit per slot */
    size_t    n_words;
} vx_scratch_t;

static int scratch_init(vx_scratch_t *sc, uint32_t n_slots)
{
    memset(sc, 0, sizeof *sc);
    sc->n_words = ((size_t)n_slots + 63) / 64;
    sc->visited = calloc(sc->n_words ? sc->n_words : 1, sizeof(uint64_t));
    return sc->visited ? 0 : HH_ENOMEM;
}

static void scratch_free(vx_scratch_t *sc)
{
    free(sc->cand.a);
    free(sc->res.a);
    free(sc->visited);
}

static inline bool bit_test(const uint64_t *b, uint32_t i) { return (b[i >> 6] >> (i & 63)) & 1u; }
static inline void bit_set(uint64_t *b, uint32_t i) { b[i >> 6] |= 1ull << (i & 63); }

/* ------------------------------------------------------------------------
 * HNSW.
 * ------------------------------------------------------------------------ */

/* Greedy descent from (*cur, *cur_s) on layers top..bottom+1 (exclusive). */
static void greedy_descend(const hh_vindex_t *ix, const float *q, int top, int bottom,
                           uint32_t *cur, float *cur_s)
{
    for (int lc = top; lc > bottom; lc--) {
        bool changed = true;
        while (changed) {
            changed = false;
            const uint32_t *l = links_at(ix, *cur, lc);
            for (uint32_t j = 1; j <= l[0]; j++) {
                float s = ix->dot(q, vec_at(ix, l[j]), (size_t)ix->dim);
                if (s > *cur_s) {
                    *cur_s = s;
                    *cur = l[j];
                    changed = true;
                }
            }
        }
    }
}

/* Beam search on one layer from the entry points eps[0..n_eps). Leaves up to
 * ef results in sc->res (min-heap by similarity). Only nodes for which
 * `allowed` has a bit (allowed NULL: all) and that are not dead (when
 * skip_dead) enter the results; every node is traversed, so disallowed
 * regions still connect allowed ones. sc->visited must be clear. */
static int search_layer(const hh_vindex_t *ix, const float *q, const vx_cand_t *eps, size_t n_eps,
                        int ef, int layer, const uint64_t *allowed, bool skip_dead, vx_scratch_t *sc)
{
    vx_heap_t *cand = &sc->cand, *res = &sc->res;
    cand->n = res->n = 0;
    size_t efz = (size_t)ef;
    for (size_t i = 0; i < n_eps; i++) {
        uint32_t v = eps[i].v;
        if (bit_test(sc->visited, v)) continue;
        bit_set(sc->visited, v);
        if (heap_push(cand, -eps[i].s, v)) return HH_ENOMEM;
        if ((!skip_dead || !ix->dead[v]) && (!allowed || bit_test(allowed, v))) {
            if (heap_push(res, eps[i].s, v)) return HH_ENOMEM;
            if (res->n > efz) heap_pop(res);
        }
    }
    while (cand->n > 0) {
        vx_cand_t c = heap_pop(cand);
        if (res->n >= efz && -c.s < res->a[0].s) break;
        const uint32_t *l = links_at(ix, c.v, layer);
        uint32_t cnt = l[0];
        for (uint32_t j = 1; j <= cnt; j++) {
            uint32_t nb = l[j];
            if (bit_test(sc->visited, nb)) continue;
            bit_set(sc->visited, nb);
            float s = ix->dot(q, vec_at(ix, nb), (size_t)ix->dim);
            if (res->n < efz || s > res->a[0].s) {
                if (heap_push(cand, -s, nb)) return HH_ENOMEM;
                if ((!skip_dead || !ix->dead[nb]) && (!allowed || bit_test(allowed, nb))) {
                    if (heap_push(res, s, nb)) return HH_ENOMEM;
                    if (res->n > efz) heap_pop(res);
                }
            }
        }
    }
    return 0;
}

static int cmp_cand_desc(const void *a, const void *b)
{
    const vx_cand_t *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->v < y->v ? -1 : (x->v > y->v);
}

/* HNSW's neighbor heuristic: walk candidates c[0..n) best first (by their
 * similarity c.s to the base node) and keep one only if it is more similar
 * to the base than to every node kept so far, up to m nodes. Sorts c. */
static uint32_t select_neighbors(const hh_vindex_t *ix, vx_cand_t *c, size_t n, uint32_t m, uint32_t *out)
{
    qsort(c, n, sizeof *c, cmp_cand_desc);
    uint32_t k = 0;
    for (size_t i = 0; i < n && k < m; i++) {
        const float *cv = vec_at(ix, c[i].v);
        bool keep = true;
        for (uint32_t r = 0; r < k && keep; r++)
            if (ix->dot(cv, vec_at(ix, out[r]), (size_t)ix->dim) > c[i].s)
                keep = false;
        if (keep) out[k++] = c[i].v;
    }
    return k;
}

/* Adds a link nb -> v on layer; an overfull list is re-selected with the
 * heuristic among its old members and v. */
static void add_link(hh_vindex_t *ix, uint32_t nb, uint32_t v, int layer)
{
    uint32_t *l = links_at(ix, nb, layer);
    uint32_t mmax = link_width(ix, layer) - 1;
    if (l[0] < mmax) {
        l[1 + l[0]] = v;
        l[0]++;
        return;
    }
    vx_cand_t c[2 * VX_MAX_M + 1];
    const float *base = vec_at(ix, nb);
    for (uint32_t j = 0; j < mmax; j++)
        c[j] = (vx_cand_t){ ix->dot(base, vec_at(ix, l[1 + j]), (size_t)ix->dim), l[1 + j] };
    c[mmax] = (vx_cand_t){ ix->dot(base, vec_at(ix, v), (size_t)ix->dim), v };
    l[0] = select_neighbors(ix, c, (size_t)mmax + 1, mmax, l + 1);
}

/* Links the node in slot v (vector stored, level set, link lists empty)
 * into the graph. Holds the writer lock. */
static int graph_insert(hh_vindex_t *ix, uint32_t v, vx_scratch_t *sc)
{
    int lv = ix->level[v];
    if (ix->entry == VX_NONE) {
        ix->entry = v;
        ix->max_level = lv;
        return 0;
    }
    const float *q = vec_at(ix, v);
    uint32_t cur = ix->entry;
    float cur_s = ix->dot(q, vec_at(ix, cur), (size_t)ix->dim);
    int top = lv < ix->max_level ? lv : ix->max_level;
    greedy_descend(ix, q, ix->max_level, top, &cur, &cur_s);

    vx_cand_t *eps = NULL;
    size_t n_eps = 1;
    vx_cand_t first = { cur_s, cur };
    int rc = 0;
    for (int lc = top; lc >= 0; lc--) {
        memset(sc->visited, 0, sc->n_words * sizeof(uint64_t));
        rc = search_layer(ix, q, eps ? eps : &first, n_eps, ix->p.ef_construction, lc, NULL, false, sc);
        if (rc) goto cleanup;
        /* The results become the next layer's entry points. */
        vx_cand_t *w = realloc(eps, (sc->res.n ? sc->res.n : 1) * sizeof *w);
        if (!w) {
            rc = HH_ENOMEM;
            goto cleanup;
        }
        eps = w;
        n_eps = 0;
        for (size_t i = 0; i < sc->res.n; i++)
            if (sc->res.a[i].v != v)
                eps[n_eps++] = sc->res.a[i];
        if (n_eps == 0) {            /* cannot happen with a non-empty graph; keep the old entry */
            eps[0] = first;
            n_eps = 1;
            continue;
        }
        vx_cand_t *sel = malloc(n_eps * sizeof *sel);
        if (!sel) {
            rc = HH_ENOMEM;
            goto cleanup;
        }
        memcpy(sel, eps, n_eps * sizeof *sel);
        uint32_t *mine = links_at(ix, v, lc);
        mine[0] = select_neighbors(ix, sel, n_eps, (uint32_t)ix->p.M, mine + 1);
        free(sel);
        for (uint32_t j = 1; j <= mine[0]; j++)
            add_link(ix, mine[j], v, lc);
    }
    if (lv > ix->max_level) {
        ix->entry = v;
        ix->max_level = lv;
    }
cleanup:
    free(eps);
    return rc;
}

/* ------------------------------------------------------------------------
 * Add / remove / compact (writer lock held by the public wrappers).
 * ------------------------------------------------------------------------ */

static bool all_finite(const float *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

static int add_locked(hh_vindex_t *ix, int64_t id, const float *vec, vx_scratch_t *sc);

/* Rebuilds ix from its live vectors in slot order (fresh level generator),
 * dropping dead slots. On failure ix is unchanged. */
static int compact_locked(hh_vindex_t *ix)
{
    hh_vindex_t tmp;
    init_empty(&tmp, ix->dim, &ix->p);
    vx_scratch_t sc;
    int rc = slots_reserve(&tmp, ix->n_live ? ix->n_live : 1);
    if (!rc) rc = map_reserve(&tmp, ix->n_live);
    if (!rc) rc = scratch_init(&sc, ix->n_live);
    if (rc) {
        storage_free(&tmp);
        return rc;
    }
    for (uint32_t v = 0; v < ix->n_slots && !rc; v++)
        if (!ix->dead[v])
            rc = add_locked(&tmp, ix->slot_id[v], vec_at(ix, v), &sc);
    scratch_free(&sc);
    if (rc) {
        storage_free(&tmp);
        return rc;
    }
    storage_free(ix);
    memcpy(ix, &tmp, offsetof(hh_vindex_t, lock));
    return 0;
}

static void maybe_compact(hh_vindex_t *ix)
{
    uint32_t n_dead = ix->n_slots - ix->n_live;
    if (ix->n_slots >= VX_COMPACT_MIN && n_dead >= ix->n_slots / 2)
        (void)compact_locked(ix);   /* on ENOMEM the index stays valid, only larger */
}

/* sc: scratch with a visited set of at least n_slots + 1 bits, or NULL
 * (then one is made here). */
static int add_locked(hh_vindex_t *ix, int64_t id, const float *vec, vx_scratch_t *sc)
{
    uint32_t old = map_find(ix, id);
    uint32_t v = ix->n_slots;
    if (v >= VX_MAX_SLOTS) return HH_EFULL;
    int rc = slots_reserve(ix, v + 1);
    if (!rc && old == VX_NONE) rc = map_reserve(ix, ix->n_live + 1);
    if (rc) return rc;

    int lv = random_level(ix);
    uint32_t *up = NULL;
    if (lv > 0) {
        up = calloc((size_t)lv * link_width(ix, 1), sizeof *up);
        if (!up) return HH_ENOMEM;
    }
    vx_scratch_t own;
    bool own_sc = false;
    if (!sc || sc->n_words * 64 < (size_t)v + 1) {
        if ((rc = scratch_init(&own, v + 1))) {
            free(up);
            return rc;
        }
        sc = &own;
        own_sc = true;
    }
    memcpy(ix->vecs + (size_t)v * (size_t)ix->dim, vec, (size_t)ix->dim * sizeof(float));
    ix->slot_id[v] = id;
    ix->dead[v] = 0;
    ix->level[v] = (uint8_t)lv;
    links_at(ix, v, 0)[0] = 0;
    ix->links_up[v] = up;
    ix->n_slots = v + 1;
    rc = graph_insert(ix, v, sc);
    if (own_sc) scratch_free(&own);
    if (rc) {
        /* Out of memory mid-insert: the node may already have in-links, so
         * it stays in the graph as a dead waypoint; the old vector stays. */
        ix->dead[v] = 1;
        return rc;
    }
    if (old != VX_NONE) {
        ix->dead[old] = 1;
        map_delete(ix, id);
        ix->n_live--;
    }
    map_insert_nogrow(ix, id, v);
    ix->n_live++;
    return 0;
}

int hh_vindex_add(hh_vindex_t *ix, int64_t id, const float *vec)
{
    if (!ix || !vec || !all_finite(vec, ix->dim)) return HH_EINVAL;
    pthread_rwlock_wrlock(&ix->lock);
    int rc = add_locked(ix, id, vec, NULL);
    if (rc == 0) maybe_compact(ix);
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

int hh_vindex_remove(hh_vindex_t *ix, int64_t id)
{
    if (!ix) return HH_EINVAL;
    pthread_rwlock_wrlock(&ix->lock);
    int rc = HH_ENOENT;
    uint32_t v = map_find(ix, id);
    if (v != VX_NONE) {
        ix->dead[v] = 1;
        map_delete(ix, id);
        ix->n_live--;
        maybe_compact(ix);
        rc = 0;
    }
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

int hh_vindex_compact(hh_vindex_t *ix)
{
    if (!ix) return HH_EINVAL;
    pthread_rwlock_wrlock(&ix->lock);
    int rc = compact_locked(ix);
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

size_t hh_vindex_size(hh_vindex_t *ix)
{
    if (!ix) return 0;
    pthread_rwlock_rdlock(&ix->lock);
    size_t n = ix->n_live;
    pthread_rwlock_unlock(&ix->lock);
    return n;
}

int hh_vindex_dim(const hh_vindex_t *ix)
{
    return ix ? ix->dim : 0;
}

int hh_vindex_get(hh_vindex_t *ix, int64_t id, float *out)
{
    if (!ix || !out) return HH_EINVAL;
    pthread_rwlock_rdlock(&ix->lock);
    uint32_t v = map_find(ix, id);
    if (v != VX_NONE)
        memcpy(out, vec_at(ix, v), (size_t)ix->dim * sizeof(float));
    pthread_rwlock_unlock(&ix->lock);
    return v != VX_NONE ? 0 : HH_ENOENT;
}

/* ------------------------------------------------------------------------
 * Search.
 * ------------------------------------------------------------------------ */

/* Top-k entry of the exact scan: ordered by score, then smaller id. */
typedef struct vx_hit {
    float   s;
    int64_t id;
} vx_hit_t;

/* a ranks below b. */
static inline bool hit_worse(vx_hit_t a, vx_hit_t b)
{
    return a.s < b.s || (a.s == b.s && a.id > b.id);
}

/* Fixed-size min-heap of the k best hits (h[0] is the worst kept). */
typedef struct vx_topk {
    vx_hit_t *h;
    int       n, k;
} vx_topk_t;

static void topk_offer(vx_topk_t *t, float s, int64_t id)
{
    vx_hit_t x = { s, id };
    size_t i;
    if (t->n < t->k) {
        i = (size_t)t->n++;
        while (i > 0) {
            size_t up = (i - 1) / 2;
            if (!hit_worse(x, t->h[up])) break;
            t->h[i] = t->h[up];
            i = up;
        }
        t->h[i] = x;
        return;
    }
    if (!hit_worse(t->h[0], x)) return;
    i = 0;
    size_t n = (size_t)t->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && hit_worse(t->h[c + 1], t->h[c])) c++;
        if (!hit_worse(t->h[c], x)) break;
        t->h[i] = t->h[c];
        i = c;
    }
    t->h[i] = x;
}

static int cmp_hit_best_first(const void *a, const void *b)
{
    vx_hit_t x = *(const vx_hit_t *)a, y = *(const vx_hit_t *)b;
    return hit_worse(y, x) ? -1 : hit_worse(x, y) ? 1 : 0;
}

/* Exact scan over the slots in list[0..n) (list NULL: every live slot). */
static void exact_scan(const hh_vindex_t *ix, const float *q, const uint32_t *list, size_t n, vx_topk_t *t)
{
    size_t dim = (size_t)ix->dim;
    if (!list) {
        for (uint32_t v = 0; v < ix->n_slots; v++)
            if (!ix->dead[v])
                topk_offer(t, ix->dot(q, vec_at(ix, v), dim), ix->slot_id[v]);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i + 4 < n)   /* rows are scattered: fetch ahead */
            __builtin_prefetch(vec_at(ix, list[i + 4]));
        topk_offer(t, ix->dot(q, vec_at(ix, list[i]), dim), ix->slot_id[list[i]]);
    }
}

static bool filter_ok(const hh_vindex_filter_t *f)
{
    switch (f->kind) {
    case HH_VINDEX_FILTER_IDS:    return f->ids != NULL || f->n_ids == 0;
    case HH_VINDEX_FILTER_BITMAP: return f->bits != NULL || f->n_bits == 0;
    case HH_VINDEX_FILTER_FN:     return f->allow != NULL;
    default:                      return false;
    }
}

/* Live slots the filter allows, in *list (malloc'ed, caller frees). */
static int allowed_slots(const hh_vindex_t *ix, const hh_vindex_filter_t *f, uint32_t **list, size_t *n)
{
    *list = NULL;
    *n = 0;
    size_t cap = ix->n_live;
    if (f->kind == HH_VINDEX_FILTER_IDS && f->n_ids < cap) cap = f->n_ids;
    uint32_t *l = malloc((cap ? cap : 1) * sizeof *l);
    if (!l) return HH_ENOMEM;
    size_t k = 0;
    switch (f->kind) {
    case HH_VINDEX_FILTER_IDS:
        for (size_t i = 0; i < f->n_ids && k < cap; i++) {
            if (i > 0 && f->ids[i] <= f->ids[i - 1]) {
                if (f->ids[i] < f->ids[i - 1]) {    /* unsorted: duplicates could slip through */
                    free(l);
                    return HH_EINVAL;
                }
                continue;
            }
            uint32_t v = map_find(ix, f->ids[i]);
            if (v != VX_NONE) l[k++] = v;
        }
        /* ids are random (chunk ids), so their slots are scattered: put the
         * slots in ascending order (through a bitmap, O(slots)) so the exact
         * scan reads the vectors front to back instead of jumping. The
         * result does not depend on the order (ties go to the lower id). */
        if (k > 256) {
            uint64_t *bits = calloc(((size_t)ix->n_slots + 63) / 64, sizeof *bits);
            if (bits) {
                for (size_t i = 0; i < k; i++)
                    bits[l[i] / 64] |= 1ull << (l[i] % 64);
                size_t o = 0;
                for (size_t w = 0; w < ((size_t)ix->n_slots + 63) / 64; w++)
                    for (uint64_t word = bits[w]; word; word &= word - 1)
                        l[o++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word));
                free(bits);
            }
        }
        break;
    case HH_VINDEX_FILTER_BITMAP:
        if (f->n_bits <= (size_t)ix->n_live) {
            /* Fewer bits than vectors: walk the set bits. */
            size_t n_words = (f->n_bits + 63) / 64;
            for (size_t w = 0; w < n_words; w++) {
                uint64_t word = f->bits[w];
                if (w == n_words - 1 && f->n_bits % 64)
                    word &= (1ull << (f->n_bits % 64)) - 1;
                while (word && k < cap) {
                    int b = __builtin_ctzll(word);
                    word &= word - 1;
                    uint32_t v = map_find(ix, f->base + (int64_t)(w * 64 + (size_t)b));
                    if (v != VX_NONE) l[k++] = v;
                }
            }
        } else {
            for (uint32_t v = 0; v < ix->n_slots; v++) {
                if (ix->dead[v]) continue;
                int64_t id = ix->slot_id[v];
                /* id - base computed in unsigned to avoid signed overflow */
                uint64_t off = (uint64_t)id - (uint64_t)f->base;
                if (id >= f->base && off < f->n_bits && ((f->bits[off / 64] >> (off % 64)) & 1u))
                    l[k++] = v;
            }
        }
        break;
    case HH_VINDEX_FILTER_FN:
        for (uint32_t v = 0; v < ix->n_slots; v++)
            if (!ix->dead[v] && f->allow(ix->slot_id[v], f->ctx))
                l[k++] = v;
        break;
    }
    *list = l;
    *n = k;
    return 0;
}

/* Graph search: up to max(ef, k) allowed live nodes into t. */
static int graph_search(const hh_vindex_t *ix, const float *q, int k, int ef, const uint64_t *allowed,
                        vx_topk_t *t)
{
    vx_scratch_t sc;
    int rc = scratch_init(&sc, ix->n_slots);
    if (rc) return rc;
    uint32_t cur = ix->entry;
    float cur_s = ix->dot(q, vec_at(ix, cur), (size_t)ix->dim);
    greedy_descend(ix, q, ix->max_level, 0, &cur, &cur_s);
    vx_cand_t ep = { cur_s, cur };
    rc = search_layer(ix, q, &ep, 1, ef > k ? ef : k, 0, allowed, true, &sc);
    if (!rc)
        for (size_t i = 0; i < sc.res.n; i++)
            topk_offer(t, sc.res.a[i].s, ix->slot_id[sc.res.a[i].v]);
    scratch_free(&sc);
    return rc;
}

int hh_vindex_search_ex(hh_vindex_t *ix, const float *q, int k, const hh_vindex_filter_t *filter,
                        const hh_vindex_search_opts_t *opts, int64_t *ids, float *scores, int *n_found)
{
    if (n_found) *n_found = 0;
    if (!ix || !q || !ids || !scores || !n_found || k < 1 || k > VX_MAX_K) return HH_EINVAL;
    if (filter && !filter_ok(filter)) return HH_EINVAL;
    if (!all_finite(q, ix->dim)) return HH_EINVAL;
    hh_vindex_search_opts_t o = opts ? *opts : (hh_vindex_search_opts_t){ 0 };
    if (o.mode != HH_VINDEX_AUTO && o.mode != HH_VINDEX_EXACT && o.mode != HH_VINDEX_GRAPH &&
        o.mode != HH_VINDEX_SCOPED)
        return HH_EINVAL;
    if (o.ef_search < 0 || o.ef_search > VX_MAX_EF) return HH_EINVAL;

    vx_hit_t *hits = malloc((size_t)k * sizeof *hits);
    if (!hits) return HH_ENOMEM;
    vx_topk_t t = { hits, 0, k };
    uint32_t *list = NULL;
    uint64_t *bits = NULL;
    size_t n_allowed = 0;
    int rc = 0;

    pthread_rwlock_rdlock(&ix->lock);
    if (ix->n_live == 0) goto cleanup;
    n_allowed = ix->n_live;
    if (filter && (rc = allowed_slots(ix, filter, &list, &n_allowed))) goto cleanup;
    if (n_allowed == 0) goto cleanup;

    bool exact = o.mode == HH_VINDEX_EXACT;
    /* scoped: the graph's paths run through vectors the filter excludes
     * (and whether the graph is used at all depends on their number), so
     * which allowed neighbours come back could change when those change;
     * the exact scan sees the allowed vectors only */
    if (o.mode == HH_VINDEX_SCOPED && filter)
        exact = true;
    else if (o.mode == HH_VINDEX_AUTO || o.mode == HH_VINDEX_SCOPED) {
        double few = (double)ix->p.filter_exact_fraction * (double)ix->n_live;
        exact = ix->n_live < (uint32_t)ix->p.exact_threshold ||
                (filter && ((double)n_allowed < few || n_allowed < (size_t)ix->p.filter_exact_min));
    }
    if (!exact) {
        if (list) {
            bits = calloc(((size_t)ix->n_slots + 63) / 64, sizeof *bits);
            if (!bits) {
                rc = HH_ENOMEM;
                goto cleanup;
            }
            for (size_t i = 0; i < n_allowed; i++)
                bit_set(bits, list[i]);
        }
        int ef = o.ef_search ? o.ef_search : ix->p.ef_search;
        if ((rc = graph_search(ix, q, k, ef, bits, &t))) goto cleanup;
        /* Allowed nodes cut off from the entry point by dead or disallowed
         * regions: fall back to the exact answer rather than return fewer. */
        size_t want = n_allowed < (size_t)k ? n_allowed : (size_t)k;
        if ((size_t)t.n < want) exact = true;
    }
    if (exact) {
        t.n = 0;
        exact_scan(ix, q, list, n_allowed, &t);
    }
cleanup:
    pthread_rwlock_unlock(&ix->lock);
    if (rc == 0) {
        qsort(hits, (size_t)t.n, sizeof *hits, cmp_hit_best_first);
        for (int i = 0; i < t.n; i++) {
            ids[i] = hits[i].id;
            scores[i] = hits[i].s;
        }
        *n_found = t.n;
    }
    free(hits);
    free(list);
    free(bits);
    return rc;
}

int hh_vindex_search(hh_vindex_t *ix, const float *q, int k, const hh_vindex_filter_t *filter,
                     int64_t *ids, float *scores, int *n_found)
{
    return hh_vindex_search_ex(ix, q, k, filter, NULL, ids, scores, n_found);
}

/* ------------------------------------------------------------------------
 * Save / load.
 *
 * File: header (VX_HDR_SIZE bytes, little-endian fields as in vx_hdr_t),
 * then per slot arrays: ids i64[n], dead u8[n], level u8[n], vectors
 * f32[n*dim], layer-0 links u32[n*(1+2M)], then the upper links u32 of each
 * node with level > 0 in slot order (level*(1+M) words each), then the
 * BLAKE2b-256 of everything before it.
 * ------------------------------------------------------------------------ */

#define VX_MAGIC    "HHVINDEX"
#define VX_VERSION  1u
#define VX_HASH     32

typedef struct vx_hdr {
    char     magic[8];
    uint32_t version, dim, n_slots, n_live;
    int32_t  M, ef_construction, ef_search, exact_threshold;
    float    filter_exact_fraction;
    int32_t  filter_exact_min;
    uint32_t entry;
    int32_t  max_level;
    uint64_t seed, rng, tag, n_up_words;
} vx_hdr_t;
_Static_assert(sizeof(vx_hdr_t) == 88, "vindex file header must be 88 bytes, no padding");

typedef struct vx_io {
    FILE                     *f;
    crypto_generichash_state  h;
    bool                      failed;
} vx_io_t;

static void io_write(vx_io_t *w, const void *p, size_t n)
{
    if (w->failed || n == 0) return;
    crypto_generichash_update(&w->h, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->failed = true;
}

static bool io_read(vx_io_t *r, void *p, size_t n)
{
    if (n == 0) return true;
    if (fread(p, 1, n, r->f) != n) return false;
    crypto_generichash_update(&r->h, p, n);
    return true;
}

int hh_vindex_save(hh_vindex_t *ix, const char *path, uint64_t tag, hh_err_t *err)
{
    if (!ix || !path) return hh_err_set(err, HH_EINVAL, -1, "vindex save: NULL argument");
    if (sodium_init() < 0) return hh_err_set(err, HH_EIO, -1, "vindex save: libsodium init failed");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return hh_err_set(err, HH_ENOMEM, -1, "vindex save: out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);

    vx_io_t w = { 0 };
    int rc = 0;
    pthread_rwlock_rdlock(&ix->lock);
    /* 0600: the vectors are derived from the documents (data/.. is 0700 too) */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    w.f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!w.f && fd >= 0)
        close(fd);
    if (!w.f) {
        rc = hh_err_set(err, HH_EIO, -1, "vindex save: cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    crypto_generichash_init(&w.h, NULL, 0, VX_HASH);
    uint32_t n = ix->n_slots;
    uint64_t n_up = 0;
    for (uint32_t v = 0; v < n; v++)
        n_up += (uint64_t)ix->level[v] * link_width(ix, 1);
    vx_hdr_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, VX_MAGIC, 8);
    h.version = VX_VERSION;
    h.dim = (uint32_t)ix->dim;
    h.n_slots = n;
    h.n_live = ix->n_live;
    h.M = ix->p.M;
    h.ef_construction = ix->p.ef_construction;
    h.ef_search = ix->p.ef_search;
    h.exact_threshold = ix->p.exact_threshold;
    h.filter_exact_fraction = ix->p.filter_exact_fraction;
    h.filter_exact_min = ix->p.filter_exact_min;
    h.entry = ix->entry;
    h.max_level = ix->max_level;
    h.seed = ix->p.seed;
    h.rng = ix->rng;
    h.tag = tag;
    h.n_up_words = n_up;
    io_write(&w, &h, sizeof h);
    io_write(&w, ix->slot_id, (size_t)n * sizeof(int64_t));
    io_write(&w, ix->dead, n);
    io_write(&w, ix->level, n);
    io_write(&w, ix->vecs, (size_t)n * (size_t)ix->dim * sizeof(float));
    io_write(&w, ix->links0, (size_t)n * link_width(ix, 0) * sizeof(uint32_t));
    for (uint32_t v = 0; v < n; v++)
        if (ix->level[v] > 0)
            io_write(&w, ix->links_up[v], (size_t)ix->level[v] * link_width(ix, 1) * sizeof(uint32_t));
    unsigned char digest[VX_HASH];
    crypto_generichash_final(&w.h, digest, VX_HASH);
    if (!w.failed && fwrite(digest, 1, VX_HASH, w.f) != VX_HASH) w.failed = true;
    if (!w.failed && fflush(w.f) != 0) w.failed = true;
    if (!w.failed && fsync(fileno(w.f)) != 0) w.failed = true;
    if (w.failed) {
        rc = hh_err_set(err, HH_EIO, -1, "vindex save: writing %s failed: %s", tmp, strerror(errno));
        goto cleanup;
    }
    if (fclose(w.f) != 0) {
        w.f = NULL;
        rc = hh_err_set(err, HH_EIO, -1, "vindex save: closing %s failed: %s", tmp, strerror(errno));
        goto cleanup;
    }
    w.f = NULL;
    if (rename(tmp, path) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "vindex save: rename to %s failed: %s", path, strerror(errno));
        goto cleanup;
    }
cleanup:
    pthread_rwlock_unlock(&ix->lock);
    if (w.f) fclose(w.f);
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

/* Structural checks of a loaded index (the checksum only proves the file is
 * what some writer wrote, not that the writer was this code). */
static int validate_loaded(hh_vindex_t *ix, hh_err_t *err)
{
    uint32_t n = ix->n_slots, live = 0;
    for (uint32_t v = 0; v < n; v++) {
        if (ix->dead[v] > 1)
            return hh_err_set(err, HH_EFORMAT, -1, "vindex load: slot %u: bad dead flag", v);
        if (ix->level[v] > VX_MAX_LEVEL || (int)ix->level[v] > ix->max_level)
            return hh_err_set(err, HH_EFORMAT, -1, "vindex load: slot %u: level %u out of range", v, ix->level[v]);
        if (!all_finite(vec_at(ix, v), ix->dim))
            return hh_err_set(err, HH_EFORMAT, -1, "vindex load: slot %u: non-finite vector", v);
        for (int lc = 0; lc <= ix->level[v]; lc++) {
            const uint32_t *l = links_at(ix, v, lc);
            if (l[0] > link_width(ix, lc) - 1)
                return hh_err_set(err, HH_EFORMAT, -1, "vindex load: slot %u layer %d: %u links", v, lc, l[0]);
            for (uint32_t j = 1; j <= l[0]; j++)
                /* a neighbor on layer lc must exist on layer lc */
                if (l[j] >= n || ix->level[l[j]] < lc)
                    return hh_err_set(err, HH_EFORMAT, -1, "vindex load: slot %u layer %d: bad link %u",
                                      v, lc, l[j]);
        }
        if (!ix->dead[v]) {
            if (live == ix->n_live)   /* the map is sized for n_live */
                return hh_err_set(err, HH_EFORMAT, -1, "vindex load: more live vectors than the header's %u",
                                  ix->n_live);
            if (map_find(ix, ix->slot_id[v]) != VX_NONE)
                return hh_err_set(err, HH_EFORMAT, -1, "vindex load: id %lld stored twice",
                                  (long long)ix->slot_id[v]);
            map_insert_nogrow(ix, ix->slot_id[v], v);
            live++;
        }
    }
    if (live != ix->n_live)
        return hh_err_set(err, HH_EFORMAT, -1, "vindex load: %u live vectors, header says %u", live, ix->n_live);
    if (n == 0 ? ix->entry != VX_NONE || ix->max_level != -1
               : ix->entry >= n || ix->level[ix->entry] != ix->max_level)
        return hh_err_set(err, HH_EFORMAT, -1, "vindex load: bad entry node");
    return 0;
}

int hh_vindex_load(const char *path, const hh_vindex_params_t *params, hh_vindex_t **out,
                   uint64_t *tag, hh_err_t *err)
{
    if (!path || !out) return hh_err_set(err, HH_EINVAL, -1, "vindex load: NULL argument");
    *out = NULL;
    if (sodium_init() < 0) return hh_err_set(err, HH_EIO, -1, "vindex load: libsodium init failed");
    vx_io_t r = { 0 };
    hh_vindex_t *ix = NULL;
    bool lock_ok = false;
    int rc = 0;
    r.f = fopen(path, "rb");
    if (!r.f)
        return hh_err_set(err, errno == ENOENT ? HH_ENOENT : HH_EIO, -1, "vindex load: cannot open %s: %s",
                          path, strerror(errno));
    struct stat st;
    if (fstat(fileno(r.f), &st) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "vindex load: stat %s: %s", path, strerror(errno));
        goto cleanup;
    }
    crypto_generichash_init(&r.h, NULL, 0, VX_HASH);
    vx_hdr_t h;
    if (!io_read(&r, &h, sizeof h)) {
        rc = hh_err_set(err, HH_ETRUNC, 0, "vindex load: %s: file shorter than the header", path);
        goto cleanup;
    }
    if (memcmp(h.magic, VX_MAGIC, 8) != 0) {
        rc = hh_err_set(err, HH_EFORMAT, 0, "vindex load: %s: not a vector index file (bad magic)", path);
        goto cleanup;
    }
    if (h.version != VX_VERSION) {
        rc = hh_err_set(err, HH_EFORMAT, 8, "vindex load: %s: version %u, expected %u", path, h.version, VX_VERSION);
        goto cleanup;
    }
    hh_vindex_params_t p = {
        .exact_threshold = h.exact_threshold, .M = h.M, .ef_construction = h.ef_construction,
        .ef_search = h.ef_search, .seed = h.seed, .filter_exact_fraction = h.filter_exact_fraction,
        .filter_exact_min = h.filter_exact_min,
    };
    if (h.dim < 1 || h.dim > VX_MAX_DIM || !params_ok(&p) || h.n_slots > VX_MAX_SLOTS ||
        h.n_live > h.n_slots || h.max_level < -1 || h.max_level > VX_MAX_LEVEL) {
        rc = hh_err_set(err, HH_EFORMAT, 12, "vindex load: %s: header fields out of range", path);
        goto cleanup;
    }
    if (params) {
        if (!params_ok(params)) {
            rc = hh_err_set(err, HH_EINVAL, -1, "vindex load: bad params");
            goto cleanup;
        }
        p.exact_threshold = params->exact_threshold;
        p.ef_search = params->ef_search;
        p.filter_exact_fraction = params->filter_exact_fraction;
        p.filter_exact_min = params->filter_exact_min;
    }
    /* Catch a header that promises more than the file holds before any
     * allocation sized by it. All terms are bounded (n < 2^31, dim <= 2^16,
     * M <= 64), so the sums cannot overflow 64 bits. */
    uint64_t n = h.n_slots;
    uint64_t w0 = 1u + 2u * (uint64_t)h.M, w1 = 1u + (uint64_t)h.M;
    if (h.n_up_words > n * VX_MAX_LEVEL * w1) {
        rc = hh_err_set(err, HH_EFORMAT, 80, "vindex load: %s: upper link count out of range", path);
        goto cleanup;
    }
    uint64_t expect = sizeof h + n * (8u + 1u + 1u + 4u * (uint64_t)h.dim + 4u * w0) + 4u * h.n_up_words + VX_HASH;
    if ((uint64_t)st.st_size != expect) {
        rc = hh_err_set(err, (uint64_t)st.st_size < expect ? HH_ETRUNC : HH_EFORMAT, -1,
                        "vindex load: %s: %lld bytes, header implies %llu", path, (long long)st.st_size,
                        (unsigned long long)expect);
        goto cleanup;
    }

    ix = malloc(sizeof *ix);
    if (!ix) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "vindex load: out of memory");
        goto cleanup;
    }
    init_empty(ix, (int)h.dim, &p);
    if (slots_reserve(ix, h.n_slots ? h.n_slots : 1) != 0 || map_reserve(ix, h.n_live) != 0) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "vindex load: out of memory for %u vectors", h.n_slots);
        goto cleanup;
    }
    memset(ix->links_up, 0, (size_t)ix->cap * sizeof *ix->links_up);
    ix->n_slots = h.n_slots;   /* storage_free walks links_up[0..n_slots), all NULL so far */
    ix->n_live = h.n_live;
    ix->entry = h.entry;
    ix->max_level = h.max_level;
    ix->rng = h.rng;
    bool ok = io_read(&r, ix->slot_id, n * 8u) && io_read(&r, ix->dead, n) && io_read(&r, ix->level, n) &&
              io_read(&r, ix->vecs, n * h.dim * 4u) && io_read(&r, ix->links0, n * w0 * 4u);
    uint64_t up_total = 0;
    for (uint32_t v = 0; ok && v < h.n_slots; v++) {
        uint32_t lv = ix->level[v];
        if (lv == 0) continue;
        if (lv > VX_MAX_LEVEL || up_total + lv * w1 > h.n_up_words) {
            rc = hh_err_set(err, HH_EFORMAT, -1, "vindex load: %s: slot %u: level %u does not fit the header",
                            path, v, lv);
            goto cleanup;
        }
        up_total += lv * w1;
        if (!(ix->links_up[v] = malloc(lv * w1 * 4u))) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "vindex load: out of memory");
            goto cleanup;
        }
        ok = io_read(&r, ix->links_up[v], lv * w1 * 4u);
    }
    if (!ok) {
        rc = hh_err_set(err, HH_ETRUNC, -1, "vindex load: %s: truncated", path);
        goto cleanup;
    }
    if (up_total != h.n_up_words) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "vindex load: %s: upper links %llu words, header says %llu", path,
                        (unsigned long long)up_total, (unsigned long long)h.n_up_words);
        goto cleanup;
    }
    unsigned char want[VX_HASH], got[VX_HASH];
    crypto_generichash_final(&r.h, want, VX_HASH);
    if (fread(got, 1, VX_HASH, r.f) != VX_HASH) {
        rc = hh_err_set(err, HH_ETRUNC, -1, "vindex load: %s: checksum missing", path);
        goto cleanup;
    }
    if (sodium_memcmp(want, got, VX_HASH) != 0) {
        rc = hh_err_set(err, HH_EFORMAT, (int64_t)(expect - VX_HASH),
                        "vindex load: %s: checksum mismatch (corrupt file; rebuild the index)", path);
        goto cleanup;
    }
    if ((rc = validate_loaded(ix, err))) goto cleanup;
    if (lock_init(ix) != 0) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "vindex load: cannot create lock");
        goto cleanup;
    }
    lock_ok = true;
    if (tag) *tag = h.tag;
    *out = ix;
    ix = NULL;
cleanup:
    fclose(r.f);
    if (ix) {
        storage_free(ix);
        if (lock_ok) pthread_rwlock_destroy(&ix->lock);
        free(ix);
    }
    return rc;
}
