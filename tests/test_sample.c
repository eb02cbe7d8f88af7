/* test_sample.c - samplers: greedy, top-k, top-p, min-p, temperature,
 * penalties, seeding, draw frequencies, logprobs. Logit vectors are made by
 * hand or by a fixed test LCG; expected values are computed independently
 * here (brute-force sorts and softmax in double). */
#include "harness.h"
#include "base/err.h"
#include "sample/sample.h"

#include <stdlib.h>

static uint64_t lcg_next(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

/* Uniform float in [lo, hi). */
static float lcg_float(uint64_t *x, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)lcg_next(x) / 2147483648.0);
}

static hh_sampler_params_t plain_params(float temp)
{
    hh_sampler_params_t p = hh_sampler_default_params();
    p.temperature = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1234;
    return p;
}

/* Softmax of logits / temp in double over the ids in keep (NULL: all). */
static void softmax_ref(const float *l, int n, double temp, const bool *keep, double *out)
{
    double mx = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++)
        if ((keep == NULL || keep[i]) && l[i] > mx)
            mx = l[i];
    for (int i = 0; i < n; i++) {
        out[i] = (keep == NULL || keep[i]) ? exp((l[i] - mx) / temp) : 0.0;
        sum += out[i];
    }
    for (int i = 0; i < n; i++)
        out[i] /= sum;
}

TEST(sample_greedy_picks_argmax_lowest_id_on_ties)
{
    hh_sampler_params_t p = plain_params(0.0f);
    hh_sampler_t *s;
    ASSERT_OK(hh_sampler_create(&s, &p));
    const float l1[] = { 1.0f, 3.0f, 2.0f, 3.0f, -5.0f };
    ASSERT_EQ_INT(hh_sampler_sample(s, l1, 5, NULL), 1);
    const float l2[] = { NAN, -INFINITY, 0.5f, 0.75f, 0.75f };
    ASSERT_EQ_INT(hh_sampler_sample(s, l2, 5, NULL), 3);
    const float l3[] = { -INFINITY, NAN, -INFINITY };
    ASSERT_EQ_INT(hh_sampler_sample(s, l3, 3, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_sampler_sample(s, l1, 0, NULL), HH_EINVAL);
    hh_sampler_free(s);

    /* negative temperature is greedy too */
    p.temperature = -1.0f;
    ASSERT_OK(hh_sampler_create(&s, &p));
    ASSERT_EQ_INT(hh_sampler_sample(s, l1, 5, NULL), 1);
    hh_sampler_free(s);
}

TEST(sample_top_k_1_is_greedy_at_any_temperature)
{
    uint64_t x = 7;
    float l[300];
    const float temps[] = { 0.05f, 0.8f, 1.0f, 5.0f, 100.0f };
    for (int rep = 0; rep < 20; rep++) {
        int best = 0;
        for (int i = 0; i < 300; i++) {
            l[i] = lcg_float(&x, -10.0f, 10.0f);
            if (l[i] > l[best])
                best = i;
        }
        for (int t = 0; t < 5; t++) {
            hh_sampler_params_t p = plain_params(temps[t]);
            p.top_k = 1;
            p.seed = (uint64_t)rep * 10 + (uint64_t)t;
            hh_sampler_t *s;
            ASSERT_OK(hh_sampler_create(&s, &p));
            for (int k = 0; k < 5; k++)
                ASSERT_EQ_INT(hh_sampler_sample(s, l, 300, NULL), best);
            hh_sampler_free(s);
        }
    }
}

/* Draws n times with seeds seed0.. (one sampler per seed, one draw each, as
 * asked) and counts the tokens. */
static int draw_counts(const hh_sampler_params_t *base, const float *l, int n_vocab, int n, long *counts)
{
    memset(counts, 0, (size_t)n_vocab * sizeof *counts);
    for (int i = 0; i < n; i++) {
        hh_sampler_params_t p = *base;
        p.seed = (uint64_t)i * 7919 + 1;
        hh_sampler_t *s;
        int rc = hh_sampler_create(&s, &p);
        if (rc < 0)
            return rc;
        int32_t t = hh_sampler_sample(s, l, n_vocab, NULL);
        hh_sampler_free(s);
        if (t < 0 || t >= n_vocab)
            return HH_ERANGE;
        counts[t]++;
    }
    return 0;
}

TEST(sample_top_p_keeps_minimal_prefix)
{
    /* ids permuted so that the order is not the index order:
     * p(id) = {2: 0.5, 0: 0.3, 3: 0.15, 1: 0.05} */
    const float l[4] = { logf(0.3f), logf(0.05f), logf(0.5f), logf(0.15f) };
    struct { float top_p; int n; int32_t ids[4]; double probs[4]; } cases[] = {
        { 0.40f, 1, { 2 },          { 1.0 } },
        { 0.75f, 2, { 2, 0 },       { 0.5 / 0.8, 0.3 / 0.8 } },
        { 0.85f, 3, { 2, 0, 3 },    { 0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95 } },
        { 0.99f, 4, { 2, 0, 3, 1 }, { 0.5, 0.3, 0.15, 0.05 } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hh_sampler_params_t p = plain_params(1.0f);
        p.top_p = cases[c].top_p;
        hh_sampler_t *s;
        ASSERT_OK(hh_sampler_create(&s, &p));
        int32_t ids[4];
        float probs[4];
        ASSERT_EQ_INT(hh_sampler_candidates(s, l, 4, ids, probs, 4), cases[c].n);
        for (int i = 0; i < cases[c].n; i++) {
            ASSERT_EQ_INT(ids[i], cases[c].ids[i]);
            ASSERT_NEAR(probs[i], cases[c].probs[i], 1e-5);
        }
        hh_sampler_free(s);

        /* By sampling: nothing outside the set, everything inside appears. */
        long counts[4];
        ASSERT_OK(draw_counts(&p, l, 4, 2000, counts));
        bool in[4] = { false };
        for (int i = 0; i < cases[c].n; i++)
            in[cases[c].ids[i]] = true;
        for (int t = 0; t < 4; t++) {
            if (in[t])
                ASSERT_GE(counts[t], 1);
            else
                ASSERT_EQ_INT(counts[t], 0);
        }
    }
}

static int cmp_desc_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

TEST(sample_top_p_large_vocab_matches_brute_force)
{
    /* A flat distribution forces the sorted prefix past several chunks. */
    enum { N = 20000 };
    float *l = malloc(N * sizeof *l), *sorted = malloc(N * sizeof *sorted);
    int32_t *ids = malloc(N * sizeof *ids);
    ASSERT_TRUE(l && sorted && ids);
    uint64_t x = 99;
    for (int i = 0; i < N; i++)
        sorted[i] = l[i] = lcg_float(&x, -1.0f, 1.0f);
    qsort(sorted, N, sizeof *sorted, cmp_desc_float);
    const float tps[] = { 0.3f, 0.9f };
    for (int c = 0; c < 2; c++) {
        double z = 0.0, cum = 0.0;
        for (int i = 0; i < N; i++)
            z += exp((double)sorted[i] - sorted[0]);
        int want = N;
        for (int i = 0; i < N; i++) {
            cum += exp((double)sorted[i] - sorted[0]);
            if (cum >= tps[c] * z) {
                want = i + 1;
                break;
            }
        }
        hh_sampler_params_t p = plain_params(1.0f);
        p.top_p = tps[c];
        hh_sampler_t *s;
        ASSERT_OK(hh_sampler_create(&s, &p));
        int32_t n = hh_sampler_candidates(s, l, N, ids, NULL, N);
        hh_sampler_free(s);
        /* float vs double sums may move the cut by a token or two */
        ASSERT_LE(abs(n - want), 2);
        ASSERT_GE(want, 1100);   /* the chunks of 256 and 1024 were not enough */
        for (int i = 0; i < n; i++)
            ASSERT_EQ_INT(l[ids[i]], sorted[i]);
    }
    free(l);
    free(sorted);
    free(ids);
}

TEST(sample_min_p_filters_relative_to_max)
{
    const float l[5] = { logf(0.06f), logf(0.4f), logf(0.04f), logf(0.3f), logf(0.2f) };
    struct { float min_p; int n; } cases[] = { { 0.125f, 4 }, { 0.6f, 2 }, { 0.9f, 1 }, { 0.05f, 5 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hh_sampler_params_t p = plain_params(1.0f);
        p.min_p = cases[c].min_p;
        hh_sampler_t *s;
        ASSERT_OK(hh_sampler_create(&s, &p));
        int32_t ids[5];
        float probs[5];
        int32_t n = hh_sampler_candidates(s, l, 5, ids, probs, 5);
        hh_sampler_free(s);
        ASSERT_EQ_INT(n, cases[c].n);
        bool keep[5];
        for (int i = 0; i < 5; i++)
            keep[i] = expf(l[i]) >= cases[c].min_p * 0.4f;
        double ref[5];
        softmax_ref(l, 5, 1.0, keep, ref);
        for (int i = 0; i < n; i++) {
            ASSERT_TRUE(keep[ids[i]]);
            ASSERT_NEAR(probs[i], ref[ids[i]], 1e-6);
        }
    }
}

TEST(sample_temperature_sharpens_and_flattens)
{
    const float l[4] = { 1.0f, 2.0f, 0.0f, 1.5f };
    const float temps[] = { 0.25f, 0.5f, 1.0f, 2.0f, 4.0f };
    double prev_top = 2.0;
    for (int t = 0; t < 5; t++) {
        hh_sampler_params_t p = plain_params(temps[t]);
        hh_sampler_t *s;
        ASSERT_OK(hh_sampler_create(&s, &p));
        int32_t ids[4];
        float probs[4];
        ASSERT_EQ_INT(hh_sampler_candidates(s, l, 4, ids, probs, 4), 4);
        hh_sampler_free(s);
        double ref[4], top = -1.0;
        softmax_ref(l, 4, temps[t], NULL, ref);
        for (int i = 0; i < 4; i++) {
            ASSERT_NEAR(probs[i], ref[ids[i]], 1e-6);
            if (ids[i] == 1)
                top = probs[i];
        }
        /* the top token's probability falls as the temperature rises */
        ASSERT_TRUE(top < prev_top && top > 0.25);
        prev_top = top;
    }
}

TEST(sample_penalties_change_exact_logits)
{
    hh_sampler_params_t p = plain_params(0.0f);
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 0.25f;
    p.repeat_last_n = 4;
    hh_sampler_t *s;
    ASSERT_OK(hh_sampler_create(&s, &p));
    /* history 3, 0, 1, 0, 7(out of vocab): window of 4 = 0, 1, 0, 7 */
    const int32_t hist[] = { 3, 0, 1, 0, 7 };
    for (int i = 0; i < 5; i++)
        ASSERT_OK(hh_sampler_accept(s, hist[i]));
    float l[5] = { 2.0f, -2.0f, 1.0f, 0.5f, 0.0f };
    ASSERT_OK(hh_sampler_apply_penalties(s, l, 5));
    ASSERT_NEAR(l[0], 2.0 / 2.0 - 2 * 0.5 - 0.25, 1e-6);     /* count 2 */
    ASSERT_NEAR(l[1], -2.0 * 2.0 - 1 * 0.5 - 0.25, 1e-6);    /* count 1, negative logit */
    ASSERT_NEAR(l[2], 1.0, 0.0);                             /* not in history */
    ASSERT_NEAR(l[3], 0.5, 0.0);                             /* fell out of the window */
    ASSERT_NEAR(l[4], 0.0, 0.0);

    /* greedy sees the penalized logits: token 0 (raw argmax) loses to 2 */
    const float raw[5] = { 2.0f, -2.0f, 1.0f, 0.5f, 0.0f };
    ASSERT_EQ_INT(hh_sampler_sample(s, raw, 5, NULL), 2);
    /* the caller's logits are untouched */
    ASSERT_NEAR(raw[0], 2.0, 0.0);
    hh_sampler_reset(s);
    ASSERT_EQ_INT(hh_sampler_sample(s, raw, 5, NULL), 0);
    hh_sampler_free(s);

    /* repeat_last_n = -1: the whole history counts; 0: no penalties */
    p.repeat_last_n = -1;
    p.frequency_penalty = 1.0f;
    p.presence_penalty = 0.0f;
    p.repeat_penalty = 1.0f;
    ASSERT_OK(hh_sampler_create(&s, &p));
    for (int i = 0; i < 300; i++)
        ASSERT_OK(hh_sampler_accept(s, 1));
    float l2[2] = { 0.0f, 0.0f };
    ASSERT_OK(hh_sampler_apply_penalties(s, l2, 2));
    ASSERT_NEAR(l2[1], -300.0, 0.0);
    hh_sampler_free(s);
    p.repeat_last_n = 0;
    ASSERT_OK(hh_sampler_create(&s, &p));
    ASSERT_OK(hh_sampler_accept(s, 1));
    l2[1] = 0.0f;
    ASSERT_OK(hh_sampler_apply_penalties(s, l2, 2));
    ASSERT_NEAR(l2[1], 0.0, 0.0);
    hh_sampler_free(s);
}

static int run_sequence(uint64_t seed, const float *l, int n_vocab, int n, int32_t *out)
{
    hh_sampler_params_t p = hh_sampler_default_params();
    p.temperature = 1.0f;
    p.seed = seed;
    hh_sampler_t *s;
    int rc = hh_sampler_create(&s, &p);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        out[i] = hh_sampler_sample(s, l + (size_t)(i % 8) * n_vocab, n_vocab, NULL);
        if (out[i] < 0 || (rc = hh_sampler_accept(s, out[i])) < 0)
            break;
    }
    hh_sampler_free(s);
    return out[n - 1] < 0 ? out[n - 1] : rc;
}

TEST(sample_same_seed_same_sequence)
{
    enum { V = 64, N = 300 };
    float l[8 * V];
    uint64_t x = 5;
    for (int i = 0; i < 8 * V; i++)
        l[i] = lcg_float(&x, -3.0f, 3.0f);
    int32_t a[N], b[N], c[N];
    ASSERT_OK(run_sequence(42, l, V, N, a));
    ASSERT_OK(run_sequence(42, l, V, N, b));
    ASSERT_OK(run_sequence(43, l, V, N, c));
    int diff = 0;
    for (int i = 0; i < N; i++) {
        ASSERT_EQ_INT(b[i], a[i]);
        diff += a[i] != c[i];
    }
    ASSERT_GE(diff, N / 4);

    /* a random seed is recorded and reproduces its run */
    hh_sampler_t *s, *s2;
    ASSERT_OK(hh_sampler_create(&s, NULL));
    uint64_t seed = hh_sampler_seed(s);
    ASSERT_TRUE(seed != HH_SEED_RANDOM);
    hh_sampler_params_t p = *hh_sampler_params(s);
    ASSERT_OK(hh_sampler_create(&s2, &p));
    for (int i = 0; i < 50; i++)
        ASSERT_EQ_INT(hh_sampler_sample(s2, l, V, NULL), hh_sampler_sample(s, l, V, NULL));
    /* reset restarts the generator */
    int32_t first[20];
    hh_sampler_reset(s);
    for (int i = 0; i < 20; i++)
        first[i] = hh_sampler_sample(s, l, V, NULL);
    hh_sampler_reset(s);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ_INT(hh_sampler_sample(s, l, V, NULL), first[i]);
    hh_sampler_free(s);
    hh_sampler_free(s2);
}

/* Chi-square statistic of counts against probabilities (bins with p > 0). */
static double chi_square(const long *counts, const double *probs, int n, long total, int *dof)
{
    double chi = 0.0;
    *dof = -1;
    for (int i = 0; i < n; i++) {
        if (probs[i] <= 0.0)
            continue;
        double e = probs[i] * (double)total;
        chi += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
        (*dof)++;
    }
    return chi;
}

TEST(sample_draw_frequencies_match_softmax)
{
    enum { V = 8, DRAWS = 100000 };
    const float l[V] = { 0.2f, 1.5f, -1.0f, 0.9f, 2.1f, -0.3f, 1.1f, 0.0f };
    /* (T, top_k): plain softmax, and top-5 at T = 0.7 */
    struct { float t; int k; } cases[] = { { 1.0f, 0 }, { 0.7f, 5 } };
    for (int c = 0; c < 2; c++) {
        hh_sampler_params_t p = plain_params(cases[c].t);
        p.top_k = cases[c].k;
        p.seed = 2024;
        hh_sampler_t *s;
        ASSERT_OK(hh_sampler_create(&s, &p));
        long counts[V] = { 0 };
        for (int i = 0; i < DRAWS; i++) {
            int32_t t = hh_sampler_sample(s, l, V, NULL);
            ASSERT_TRUE(t >= 0 && t < V);
            counts[t]++;
        }
        hh_sampler_free(s);
        bool keep[V];
        for (int i = 0; i < V; i++) {
            int better = 0;
            for (int j = 0; j < V; j++)
                better += l[j] > l[i];
            keep[i] = cases[c].k == 0 || better < cases[c].k;
        }
        double ref[V];
        softmax_ref(l, V, cases[c].t, keep, ref);
        int dof;
        double chi = chi_square(counts, ref, V, DRAWS, &dof);
        for (int i = 0; i < V; i++)
            if (!keep[i])
                ASSERT_EQ_INT(counts[i], 0);
        /* 99.9% quantiles: 24.32 (7 dof), 18.47 (4 dof) */
        ASSERT_EQ_INT(dof, cases[c].k == 0 ? 7 : 4);
        double limit = dof == 7 ? 24.32 : 18.47;
        ASSERT_LE(chi, limit);
    }
}

TEST(sample_logprobs_normalized_and_top_sorted)
{
    enum { V = 1000 };
    float l[V];
    uint64_t x = 77;
    for (int i = 0; i < V; i++)
        l[i] = lcg_float(&x, -8.0f, 8.0f);
    l[500] = l[10];   /* a tie: the lower id must come first */
    l[10] = 9.0f;
    l[500] = 9.0f;

    double total = 0.0;
    hh_logprobs_t lp;
    for (int i = 0; i < V; i++) {
        ASSERT_OK(hh_sampler_logprobs(l, V, i, 0, &lp));
        ASSERT_EQ_INT(lp.n_top, 0);
        total += exp(lp.logprob);
    }
    ASSERT_NEAR(total, 1.0, 1e-4);

    /* brute force: the 20 best by (logit desc, id asc) */
    int32_t order[V];
    for (int i = 0; i < V; i++)
        order[i] = i;
    for (int i = 0; i < 20; i++)
        for (int j = i + 1; j < V; j++)
            if (l[order[j]] > l[order[i]] || (l[order[j]] == l[order[i]] && order[j] < order[i])) {
                int32_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    double mx = 9.0, sum = 0.0;
    for (int i = 0; i < V; i++)
        sum += exp(l[i] - mx);
    double lse = mx + log(sum);
    ASSERT_OK(hh_sampler_logprobs(l, V, 3, 20, &lp));
    ASSERT_EQ_INT(lp.token, 3);
    ASSERT_NEAR(lp.logprob, l[3] - lse, 1e-4);
    ASSERT_EQ_INT(lp.n_top, 20);
    ASSERT_EQ_INT(lp.top_ids[0], 10);
    ASSERT_EQ_INT(lp.top_ids[1], 500);
    for (int i = 0; i < 20; i++) {
        ASSERT_EQ_INT(lp.top_ids[i], order[i]);
        ASSERT_NEAR(lp.top_logprobs[i], l[order[i]] - lse, 1e-4);
        if (i > 0)
            ASSERT_LE(lp.top_logprobs[i], lp.top_logprobs[i - 1]);
    }
    ASSERT_EQ_INT(hh_sampler_logprobs(l, V, V, 5, &lp), HH_EINVAL);
    ASSERT_EQ_INT(hh_sampler_logprobs(l, V, 0, 21, &lp), HH_EINVAL);

    /* Through the sampler: raw distribution, regardless of temperature and
     * penalties. */
    hh_sampler_params_t p = hh_sampler_default_params();
    p.temperature = 0.3f;
    p.repeat_penalty = 1.5f;
    p.n_probs = 5;
    p.seed = 9;
    hh_sampler_t *s;
    ASSERT_OK(hh_sampler_create(&s, &p));
    ASSERT_OK(hh_sampler_accept(s, 10));
    int32_t t = hh_sampler_sample(s, l, V, &lp);
    ASSERT_TRUE(t >= 0);
    ASSERT_EQ_INT(lp.token, t);
    ASSERT_NEAR(lp.logprob, l[t] - lse, 1e-4);
    ASSERT_EQ_INT(lp.n_top, 5);
    ASSERT_EQ_INT(lp.top_ids[0], 10);
    hh_sampler_free(s);
}

TEST(sample_large_vocab_stays_in_top_k)
{
    enum { V = 150000, STEPS = 100 };
    float *l = malloc(V * sizeof *l);
    ASSERT_TRUE(l != NULL);
    uint64_t x = 3;
    for (int i = 0; i < V; i++)
        l[i] = lcg_float(&x, -5.0f, 5.0f);
    hh_sampler_params_t p = hh_sampler_default_params();
    p.temperature = 1.0f;
    p.min_p = 0.0f;
    p.seed = 11;
    hh_sampler_t *s;
    ASSERT_OK(hh_sampler_create(&s, &p));
    for (int step = 0; step < STEPS; step++) {
        int32_t t = hh_sampler_sample(s, l, V, NULL);
        ASSERT_TRUE(t >= 0 && t < V);
        int better = 0;
        for (int i = 0; i < V; i++)
            better += l[i] > l[t];
        ASSERT_LE(better, 39);
    }
    hh_sampler_free(s);
    free(l);
}

TEST(sample_rejects_bad_params)
{
    hh_sampler_t *s = (hh_sampler_t *)1;
    hh_sampler_params_t p = hh_sampler_default_params();
    p.top_p = 1.5f;
    ASSERT_EQ_INT(hh_sampler_create(&s, &p), HH_EINVAL);
    ASSERT_TRUE(s == NULL);
    p = hh_sampler_default_params();
    p.temperature = NAN;
    ASSERT_EQ_INT(hh_sampler_create(&s, &p), HH_EINVAL);
    p = hh_sampler_default_params();
    p.n_probs = HH_LOGPROBS_MAX + 1;
    ASSERT_EQ_INT(hh_sampler_create(&s, &p), HH_EINVAL);
    p = hh_sampler_default_params();
    p.repeat_penalty = 0.0f;
    ASSERT_EQ_INT(hh_sampler_create(&s, &p), HH_EINVAL);
    p = hh_sampler_default_params();
    p.repeat_last_n = -2;
    ASSERT_EQ_INT(hh_sampler_create(&s, &p), HH_EINVAL);
    p = hh_sampler_default_params();
    p.min_p = -0.1f;
    ASSERT_EQ_INT(hh_sampler_create(&s, &p), HH_EINVAL);
}

TEST(sample_tiny_temperature_acts_greedy)
{
    /* At T = 1e-4 every token but the argmax has weight exp(-1e4) = 0. */
    enum { V = 5000 };
    float *l = malloc(V * sizeof *l);
    ASSERT_TRUE(l != NULL);
    uint64_t x = 17;
    int best = 0;
    for (int i = 0; i < V; i++) {
        l[i] = lcg_float(&x, -2.0f, 2.0f);
        if (l[i] > l[best])
            best = i;
    }
    l[best] = 3.0f;   /* a gap >= 1 to every other token */
    hh_sampler_params_t p = plain_params(1e-4f);
    hh_sampler_t *s;
    ASSERT_OK(hh_sampler_create(&s, &p));
    for (int i = 0; i < 2000; i++)
        ASSERT_EQ_INT(hh_sampler_sample(s, l, V, NULL), best);
    hh_sampler_free(s);
    free(l);
}
