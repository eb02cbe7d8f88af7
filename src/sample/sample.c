/* sample.c - token samplers (see sample.h for the pipeline and semantics). */
#include "sample/sample.h"

#include "base/err.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* First top-p chunk that is sorted; grows 4x while the mass is not reached. */
#define TOP_P_CHUNK 256

typedef struct cand {
    int32_t id;
    float   v;      /* (logit - max logit) / temperature (<= 0), then its weight exp(v) */
} cand_t;

struct hh_sampler {
    hh_sampler_params_t p;
    uint64_t rng[4];        /* xoshiro256** state */
    int32_t *hist;          /* accepted tokens; the window is the last repeat_last_n */
    size_t   n_hist, cap_hist;
    int32_t *win;           /* scratch: sorted copy of the window */
    size_t   cap_win;
    float   *work;          /* scratch: penalized logits (n_vocab) */
    cand_t  *cand;          /* scratch: candidates (n_vocab) */
    size_t   cap_vocab;
    int32_t  n_final;       /* survivors of the last prepare() in cand[0..n_final) */
};

/* ---- PRNG: xoshiro256**, seeded through splitmix64 ---------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t st[4])
{
    uint64_t r = rotl(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    return r;
}

/* Uniform double in [0, 1) from the top 53 bits. */
static double rng_uniform(uint64_t st[4])
{
    return (double)(rng_next(st) >> 11) * (1.0 / 9007199254740992.0);
}

static void rng_seed(uint64_t st[4], uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        st[i] = splitmix64(&x);
}

static uint64_t random_seed(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v && v != HH_SEED_RANDOM)
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    v = splitmix64(&x);
    return v == HH_SEED_RANDOM ? 0 : v;
}

/* ---- parameters, lifetime ----------------------------------------------- */

hh_sampler_params_t hh_sampler_default_params(void)
{
    return (hh_sampler_params_t){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .seed = HH_SEED_RANDOM,
        .n_probs = 0,
    };
}

static bool params_ok(const hh_sampler_params_t *p)
{
    /* Written so that NaN fails the comparisons and is rejected. */
    if (!isfinite(p->temperature))
        return false;
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f) || !(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return false;
    if (!(p->repeat_penalty > 0.0f) || !isfinite(p->repeat_penalty))
        return false;
    if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
        return false;
    if (p->repeat_last_n < -1 || p->n_probs < 0 || p->n_probs > HH_LOGPROBS_MAX)
        return false;
    return true;
}

int hh_sampler_create(hh_sampler_t **out, const hh_sampler_params_t *params)
{
    if (out == NULL)
        return HH_EINVAL;
    *out = NULL;
    hh_sampler_params_t p = params ? *params : hh_sampler_default_params();
    if (!params_ok(&p))
        return HH_EINVAL;
    hh_sampler_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return HH_ENOMEM;
    s->p = p;
    if (s->p.seed == HH_SEED_RANDOM)
        s->p.seed = random_seed();
    rng_seed(s->rng, s->p.seed);
    *out = s;
    return 0;
}

void hh_sampler_free(hh_sampler_t *s)
{
    if (s == NULL)
        return;
    free(s->hist);
    free(s->win);
    free(s->work);
    free(s->cand);
    free(s);
}

const hh_sampler_params_t *hh_sampler_params(const hh_sampler_t *s)
{
    return &s->p;
}

uint64_t hh_sampler_seed(const hh_sampler_t *s)
{
    return s->p.seed;
}

void hh_sampler_reset(hh_sampler_t *s)
{
    s->n_hist = 0;
    rng_seed(s->rng, s->p.seed);
}

/* ---- history and penalties ---------------------------------------------- */

int hh_sampler_accept(hh_sampler_t *s, int32_t token)
{
    size_t w = (size_t)s->p.repeat_last_n;
    if (s->p.repeat_last_n > 0 && s->n_hist >= 2 * w) {
        /* Keep only the window: amortized O(1) per token, bounded memory. */
        memmove(s->hist, s->hist + s->n_hist - w, w * sizeof *s->hist);
        s->n_hist = w;
    }
    if (s->n_hist == s->cap_hist) {
        size_t cap = s->cap_hist ? s->cap_hist * 2 : 64;
        if (cap > SIZE_MAX / sizeof *s->hist)
            return HH_ENOMEM;
        int32_t *h = realloc(s->hist, cap * sizeof *h);
        if (h == NULL)
            return HH_ENOMEM;
        s->hist = h;
        s->cap_hist = cap;
    }
    s->hist[s->n_hist++] = token;
    return 0;
}

static bool penalties_active(const hh_sampler_t *s)
{
    if (s->p.repeat_last_n == 0 || s->n_hist == 0)
        return false;
    return s->p.repeat_penalty != 1.0f || s->p.frequency_penalty != 0.0f || s->p.presence_penalty != 0.0f;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Applies the penalties with a sorted copy of the window as scratch, so each
 * distinct token is handled once with its count. */
static void apply_penalties(const hh_sampler_t *s, float *logits, int32_t n_vocab, int32_t *scratch)
{
    size_t n = s->n_hist;
    if (s->p.repeat_last_n > 0 && n > (size_t)s->p.repeat_last_n)
        n = (size_t)s->p.repeat_last_n;
    memcpy(scratch, s->hist + s->n_hist - n, n * sizeof *scratch);
    qsort(scratch, n, sizeof *scratch, cmp_i32);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && scratch[j] == scratch[i])
            j++;
        int32_t t = scratch[i];
        if (t >= 0 && t < n_vocab) {
            float l = logits[t];
            if (s->p.repeat_penalty != 1.0f)
                l = l > 0.0f ? l / s->p.repeat_penalty : l * s->p.repeat_penalty;
            l -= (float)(j - i) * s->p.frequency_penalty + s->p.presence_penalty;
            logits[t] = l;
        }
        i = j;
    }
}

int hh_sampler_apply_penalties(const hh_sampler_t *s, float *logits, int32_t n_vocab)
{
    if (logits == NULL || n_vocab <= 0)
        return HH_EINVAL;
    if (!penalties_active(s))
        return 0;
    /* The window is usually short; a stack buffer avoids touching s. */
    size_t n = s->n_hist;
    if (s->p.repeat_last_n > 0 && n > (size_t)s->p.repeat_last_n)
        n = (size_t)s->p.repeat_last_n;
    int32_t stackbuf[256];
    int32_t *scratch = n <= 256 ? stackbuf : malloc(n * sizeof *scratch);
    if (scratch == NULL)
        return HH_ENOMEM;
    apply_penalties(s, logits, n_vocab, scratch);
    if (scratch != stackbuf)
        free(scratch);
    return 0;
}

/* ---- candidate selection ------------------------------------------------- */

/* Strict total order: higher scaled logit first, then lower id. */
static inline bool better(const cand_t *a, const cand_t *b)
{
    return a->v > b->v || (a->v == b->v && a->id < b->id);
}

static inline void swap_cand(cand_t *a, cand_t *b)
{
    cand_t t = *a;
    *a = *b;
    *b = t;
}

/* Min-heap under `better` (the root is the worst kept candidate). */
static void heap_push(cand_t *h, size_t n, cand_t x)
{
    size_t i = n;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!better(&h[parent], &x))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

static void heap_replace_root(cand_t *h, size_t n, cand_t x)
{
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && better(&h[child], &h[child + 1]))
            child++;    /* the worse child */
        if (!better(&x, &h[child]))
            break;
        h[i] = h[child];
        i = child;
    }
    h[i] = x;
}

/* Rearranges c[0..n) so that c[0..k) hold the k best (in no order).
 * Quickselect with a median-of-three pivot; keys are distinct. */
static void select_top(cand_t *c, size_t n, size_t k)
{
    size_t lo = 0, hi = n;   /* the k-th boundary lies in [lo, hi) */
    while (hi - lo > 1 && k > lo && k < hi) {
        size_t mid = lo + (hi - lo) / 2;
        /* median of c[lo], c[mid], c[hi-1] moved to c[hi-1] */
        if (better(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
        if (better(&c[hi - 1], &c[lo])) swap_cand(&c[hi - 1], &c[lo]);
        if (better(&c[mid], &c[hi - 1])) swap_cand(&c[mid], &c[hi - 1]);
        cand_t pv = c[hi - 1];
        size_t st = lo;
        for (size_t i = lo; i < hi - 1; i++)
            if (better(&c[i], &pv))
                swap_cand(&c[i], &c[st++]);
        swap_cand(&c[st], &c[hi - 1]);
        /* c[lo..st) better than pivot, c[st] pivot, c[st+1..hi) worse */
        if (st == k || st + 1 == k)
            return;
        if (st > k)
            hi = st;
        else
            lo = st + 1;
    }
}

static int cmp_cand(const void *a, const void *b)
{
    const cand_t *x = a, *y = b;
    if (better(x, y)) return -1;
    if (better(y, x)) return 1;
    return 0;
}

static int grow_scratch(hh_sampler_t *s, int32_t n_vocab)
{
    size_t n = (size_t)n_vocab;
    if (n <= s->cap_vocab)
        return 0;
    float *w = malloc(n * sizeof *w);
    cand_t *c = malloc(n * sizeof *c);
    if (w == NULL || c == NULL) {
        free(w);
        free(c);
        return HH_ENOMEM;
    }
    free(s->work);
    free(s->cand);
    s->work = w;
    s->cand = c;
    s->cap_vocab = n;
    return 0;
}

static int grow_window(hh_sampler_t *s)
{
    if (s->cap_win >= s->n_hist)
        return 0;
    int32_t *w = realloc(s->win, s->n_hist * sizeof *w);
    if (w == NULL)
        return HH_ENOMEM;
    s->win = w;
    s->cap_win = s->n_hist;
    return 0;
}

/* Runs penalties, greedy or top-k / top-p / min-p; leaves the survivors in
 * s->cand[0..n_final) with their unnormalized weights (greedy: one). */
static int prepare(hh_sampler_t *s, const float *logits, int32_t n_vocab)
{
    if (logits == NULL || n_vocab <= 0)
        return HH_EINVAL;
    int rc = grow_scratch(s, n_vocab);
    if (rc < 0)
        return rc;
    const float *l = logits;
    if (penalties_active(s)) {
        if ((rc = grow_window(s)) < 0)
            return rc;
        memcpy(s->work, logits, (size_t)n_vocab * sizeof *s->work);
        apply_penalties(s, s->work, n_vocab, s->win);
        l = s->work;
    }

    if (s->p.temperature <= 0.0f || s->p.top_k == 1) {
        int32_t best = -1;
        for (int32_t i = 0; i < n_vocab; i++)
            if (l[i] > -INFINITY && (best < 0 || l[i] > l[best]))   /* NaN never wins */
                best = i;
        if (best < 0)
            return HH_EINVAL;
        s->cand[0] = (cand_t){ best, 1.0f };
        s->n_final = 1;
        return 0;
    }

    /* Candidates: every token with a usable logit, scaled as (l - l_max) / T
     * so that a tiny temperature cannot overflow; the best scores 0. A +inf
     * logit takes all the mass (shared with other +inf ones). With top-k the
     * candidates are kept in a min-heap of k entries during the scan: after
     * the first few thousand tokens almost every token is rejected by one
     * comparison with the heap's root, so a 150k vocabulary costs one pass. */
    float l_max = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (l[i] > l_max)
            l_max = l[i];
    if (!(l_max > -INFINITY))
        return HH_EINVAL;
    const float inv_t = 1.0f / s->p.temperature;
    const size_t k = s->p.top_k > 0 && s->p.top_k < n_vocab ? (size_t)s->p.top_k : SIZE_MAX;
    cand_t *c = s->cand;
    size_t n = 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        float v;
        if (l_max == INFINITY)
            v = l[i] == INFINITY ? 0.0f : -INFINITY;
        else
            v = (l[i] - l_max) * inv_t;
        if (!(v > -INFINITY))   /* drops NaN and tokens with probability 0 */
            continue;
        cand_t x = { i, v };
        if (k == SIZE_MAX)
            c[n++] = x;
        else if (n < k)
            heap_push(c, n++, x);
        else if (better(&x, &c[0]))
            heap_replace_root(c, n, x);
    }

    /* Softmax weights w = exp(v) replace v in place (same order). top-p
     * needs the normalizer over the whole top-k set, before min-p. */
    const bool use_top_p = s->p.top_p < 1.0f;
    double z = 0.0;
    if (s->p.min_p > 0.0f) {
        /* min-p: p_i >= min_p * p_max  <=>  v_i >= log(min_p) (v_max = 0).
         * Both min-p and top-p keep a highest-first prefix, so the final
         * set is the shorter one; filtering first makes top-p cheaper. */
        const float thr = logf(s->p.min_p);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            float w = expf(c[i].v);
            z += w;
            if (c[i].v >= thr)
                c[m++] = (cand_t){ c[i].id, w };
        }
        n = m;   /* >= 1: the maximum always passes */
    } else {
        for (size_t i = 0; i < n; i++) {
            c[i].v = expf(c[i].v);
            z += c[i].v;
        }
    }

    /* top-p: sort growing highest-first chunks until the mass reaches p. */
    if (use_top_p) {
        double target = (double)s->p.top_p * z, cum = 0.0;
        size_t sorted = 0, chunk = TOP_P_CHUNK, keep = n;
        bool done = false;
        while (!done && sorted < n) {
            size_t end = sorted + chunk < n ? sorted + chunk : n;
            select_top(c + sorted, n - sorted, end - sorted);
            qsort(c + sorted, end - sorted, sizeof *c, cmp_cand);
            for (size_t i = sorted; i < end; i++) {
                cum += c[i].v;
                if (cum >= target) {
                    keep = i + 1;
                    done = true;
                    break;
                }
            }
            sorted = end;
            chunk *= 4;
        }
        n = keep;
    }

    s->n_final = (int32_t)n;
    return 0;
}

int32_t hh_sampler_candidates(hh_sampler_t *s, const float *logits, int32_t n_vocab,
                              int32_t *ids, float *probs, int32_t cap)
{
    int rc = prepare(s, logits, n_vocab);
    if (rc < 0)
        return rc;
    double sum = 0.0;
    for (int32_t i = 0; i < s->n_final; i++)
        sum += s->cand[i].v;
    for (int32_t i = 0; i < s->n_final && i < cap; i++) {
        if (ids) ids[i] = s->cand[i].id;
        if (probs) probs[i] = (float)(s->cand[i].v / sum);
    }
    return s->n_final;
}

int32_t hh_sampler_sample(hh_sampler_t *s, const float *logits, int32_t n_vocab, hh_logprobs_t *lp)
{
    int rc = prepare(s, logits, n_vocab);
    if (rc < 0)
        return rc;
    int32_t tok = s->cand[0].id;
    if (s->n_final > 1) {
        double sum = 0.0;
        for (int32_t i = 0; i < s->n_final; i++)
            sum += s->cand[i].v;
        double u = rng_uniform(s->rng) * sum, acc = 0.0;
        /* r * sum may round up to sum: then the last token with a nonzero
         * weight is taken (weights can underflow to 0 at low temperature). */
        for (int32_t i = 0; i < s->n_final; i++) {
            if (s->cand[i].v > 0.0f)
                tok = s->cand[i].id;
            acc += s->cand[i].v;
            if (u < acc)
                break;
        }
    }
    if (lp != NULL) {
        rc = hh_sampler_logprobs(logits, n_vocab, tok, s->p.n_probs, lp);
        if (rc < 0)
            return rc;
    }
    return tok;
}

/* ---- logprobs ------------------------------------------------------------ */

int hh_sampler_logprobs(const float *logits, int32_t n_vocab, int32_t token, int n_probs, hh_logprobs_t *lp)
{
    if (logits == NULL || lp == NULL || n_vocab <= 0 || token < 0 || token >= n_vocab ||
        n_probs < 0 || n_probs > HH_LOGPROBS_MAX)
        return HH_EINVAL;
    float mx = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > mx)
            mx = logits[i];
    if (!(mx > -INFINITY) || mx == INFINITY)
        return HH_EINVAL;
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++)
        if (logits[i] > -INFINITY)
            sum += expf(logits[i] - mx);   /* float exp, double sum: plenty for logprobs */
    double lse = (double)mx + log(sum);

    /* Top n_probs by insertion into a short sorted list; most tokens are
     * rejected by one comparison with the current last entry. */
    int n = 0;
    int32_t ids[HH_LOGPROBS_MAX];
    float vals[HH_LOGPROBS_MAX];
    if (n_probs > 0) {
        for (int32_t i = 0; i < n_vocab; i++) {
            float v = logits[i];
            if (!(v > -INFINITY))
                continue;
            if (n == n_probs && !(v > vals[n - 1]))
                continue;   /* equal values keep the lower id already listed */
            int j = n < n_probs ? n++ : n - 1;
            while (j > 0 && v > vals[j - 1]) {
                ids[j] = ids[j - 1];
                vals[j] = vals[j - 1];
                j--;
            }
            ids[j] = i;
            vals[j] = v;
        }
    }
    lp->token = token;
    lp->logprob = logits[token] > -INFINITY ? (float)((double)logits[token] - lse) : -INFINITY;
    lp->n_top = n;
    for (int i = 0; i < n; i++) {
        lp->top_ids[i] = ids[i];
        lp->top_logprobs[i] = (float)((double)vals[i] - lse);
    }
    return 0;
}
