/* test_kernels.c - kernel dispatch, dequantization and dot products of every
 * compute type on every ISA this CPU runs (SIMD dequant bit-identical to the
 * scalar reference, dots within a named tolerance of a float64 dot), known
 * values that pin each block format, and the fp16 / bf16 conversions. */
#include "harness.h"
#include "base/cpu.h"
#include "kernels/fp16.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/model_int.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* |dot - float64 dot| <= TOL_DOT_REL * sum |w_i * x_i|: F32 accumulation of
 * up to 4096 products in several partial sums stays far below this. */
#define TOL_DOT_REL 1e-5

#define ROW_MAX 4096

typedef struct { hh_type_t type; const char *name; int blck; size_t size; } type_case_t;

static const type_case_t k_types[] = {
    { HH_TYPE_F32,  "f32",  1,   sizeof(float) },
    { HH_TYPE_F16,  "f16",  1,   sizeof(hh_half) },
    { HH_TYPE_BF16, "bf16", 1,   sizeof(hh_bf16) },
    { HH_TYPE_Q4_0, "q4_0", 32,  sizeof(hh_block_q4_0) },
    { HH_TYPE_Q4_1, "q4_1", 32,  sizeof(hh_block_q4_1) },
    { HH_TYPE_Q5_0, "q5_0", 32,  sizeof(hh_block_q5_0) },
    { HH_TYPE_Q5_1, "q5_1", 32,  sizeof(hh_block_q5_1) },
    { HH_TYPE_Q8_0, "q8_0", 32,  sizeof(hh_block_q8_0) },
    { HH_TYPE_Q2_K, "q2_K", 256, sizeof(hh_block_q2_K) },
    { HH_TYPE_Q3_K, "q3_K", 256, sizeof(hh_block_q3_K) },
    { HH_TYPE_Q4_K, "q4_K", 256, sizeof(hh_block_q4_K) },
    { HH_TYPE_Q5_K, "q5_K", 256, sizeof(hh_block_q5_K) },
    { HH_TYPE_Q6_K, "q6_K", 256, sizeof(hh_block_q6_K) },
    { HH_TYPE_MXFP4, "mxfp4", 32, sizeof(hh_block_mxfp4) },
    { HH_TYPE_IQ4_NL, "iq4_nl", 32, sizeof(hh_block_iq4_nl) },
    { HH_TYPE_IQ4_XS, "iq4_xs", 256, sizeof(hh_block_iq4_xs) },
};
#define N_TYPES ((int)(sizeof k_types / sizeof k_types[0]))

/* ---- random data ----------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float rng_unit(uint64_t *s) { return (float)((double)(rng_next(s) >> 11) * 0x1p-52 - 1.0); }

/* A finite scale half of moderate magnitude (1e-3 .. 1, either sign); one in
 * 16 is a subnormal half and one in 32 is zero, so those paths run too. */
static hh_half rng_scale(uint64_t *s)
{
    uint64_t r = rng_next(s);
    if ((r & 31) == 0) return 0;
    if ((r & 15) == 1) return (hh_half)(((r >> 8) & 0x3ff) | ((r >> 20) & 1 ? 0x8000 : 0));
    float v = (0.001f + (float)((r >> 12) & 0xffff) / 65536.0f) * ((r >> 40) & 1 ? -1.0f : 1.0f);
    return hh_f32_to_fp16(v);
}

/* n values of type t: random bytes, then every scale field made finite. */
static void fill_random(const type_case_t *tc, void *buf, int64_t n, uint64_t *s)
{
    size_t nb = (size_t)(n / tc->blck);
    size_t bytes = nb * tc->size;
    uint8_t *p = buf;
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rng_next(s);
    for (size_t i = 0; i < nb; i++) {
        void *b = p + i * tc->size;
        switch (tc->type) {
        case HH_TYPE_F32:  ((float *)buf)[i] = rng_unit(s) * 4.0f; break;
        case HH_TYPE_F16:  ((hh_half *)buf)[i] = hh_f32_to_fp16(rng_unit(s) * 4.0f); break;
        case HH_TYPE_BF16: ((hh_bf16 *)buf)[i] = hh_f32_to_bf16(rng_unit(s) * 4.0f); break;
        case HH_TYPE_Q4_0: ((hh_block_q4_0 *)b)->d = rng_scale(s); break;
        case HH_TYPE_Q4_1: ((hh_block_q4_1 *)b)->d = rng_scale(s); ((hh_block_q4_1 *)b)->m = rng_scale(s); break;
        case HH_TYPE_Q5_0: ((hh_block_q5_0 *)b)->d = rng_scale(s); break;
        case HH_TYPE_Q5_1: ((hh_block_q5_1 *)b)->d = rng_scale(s); ((hh_block_q5_1 *)b)->m = rng_scale(s); break;
        case HH_TYPE_Q8_0: ((hh_block_q8_0 *)b)->d = rng_scale(s); break;
        case HH_TYPE_Q2_K: ((hh_block_q2_K *)b)->d = rng_scale(s); ((hh_block_q2_K *)b)->dmin = rng_scale(s); break;
        case HH_TYPE_Q3_K: ((hh_block_q3_K *)b)->d = rng_scale(s); break;
        case HH_TYPE_Q4_K: ((hh_block_q4_K *)b)->d = rng_scale(s); ((hh_block_q4_K *)b)->dmin = rng_scale(s); break;
        case HH_TYPE_Q5_K: ((hh_block_q5_K *)b)->d = rng_scale(s); ((hh_block_q5_K *)b)->dmin = rng_scale(s); break;
        case HH_TYPE_Q6_K: ((hh_block_q6_K *)b)->d = rng_scale(s); break;
        case HH_TYPE_IQ4_NL: ((hh_block_iq4_nl *)b)->d = rng_scale(s); break;
        case HH_TYPE_IQ4_XS: ((hh_block_iq4_xs *)b)->d = rng_scale(s); break;   /* 6-bit scales: any bits */
        /* exponents 2^-20 .. 2^11 (times codes up to 12), and one in 16 the subnormal e = 0 or 1 */
        case HH_TYPE_MXFP4: ((hh_block_mxfp4 *)b)->e = (rng_next(s) & 15) == 0 ? (uint8_t)(rng_next(s) & 1)
                                                                          : (uint8_t)(108 + rng_next(s) % 32); break;
        default: break;
        }
    }
}

/* Row lengths tried for a type: one block, a few blocks, a long row, and for
 * the float types lengths that leave a SIMD tail. */
static int row_lengths(const type_case_t *tc, int64_t out[8])
{
    int k = 0;
    if (tc->blck == 1) {
        static const int64_t f[] = { 1, 7, 33, 100, 257, ROW_MAX };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) out[k++] = f[i];
    } else {
        out[k++] = tc->blck;
        out[k++] = 3 * tc->blck;
        if (tc->blck == 32) out[k++] = 11 * 32;   /* odd number of blocks: the AVX-512 pair loop's tail */
        out[k++] = ROW_MAX;
    }
    return k;
}

/* ---- dispatch -------------------------------------------------------------- */

TEST(kernels_tables_cover_all_types)
{
    const hh_kernels_t *best = hh_kernels();
    ASSERT_TRUE(best != NULL);
    ASSERT_TRUE(best == hh_kernels());
    ASSERT_EQ_INT(best->isa, hh_cpu_isa());
    ASSERT_TRUE(hh_kernels_for(HH_ISA_COUNT) == NULL);
    ASSERT_TRUE(hh_kernels_for((hh_isa_t)-1) == NULL);
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        /* present exactly when compiled in (x86-64 / aarch64 sets) and supported */
        bool compiled = isa == HH_ISA_SCALAR;
#if defined(__x86_64__)
        compiled = compiled || isa == HH_ISA_AVX2 || isa == HH_ISA_AVX512;
#elif defined(__aarch64__)
        compiled = compiled || isa == HH_ISA_NEON;
#endif
        ASSERT_EQ_INT(k != NULL, compiled && hh_cpu_supports((hh_isa_t)isa));
        if (k == NULL) continue;
        ASSERT_EQ_INT(k->isa, isa);
        for (int t = 0; t < N_TYPES; t++) {
            if (k->dequant[k_types[t].type] == NULL || k->dot[k_types[t].type] == NULL)
                printf("    missing kernel %s on %s\n", k_types[t].name, hh_isa_name((hh_isa_t)isa));
            ASSERT_TRUE(k->dequant[k_types[t].type] != NULL);
            ASSERT_TRUE(k->dot[k_types[t].type] != NULL);
        }
        ASSERT_TRUE(k->dot[HH_TYPE_Q8_K] == NULL);   /* activation-only format: no weight kernel */
    }
}

/* ---- variants against the reference --------------------------------------- */

TEST(kernels_dequant_matches_ref_bit_for_bit)
{
    const hh_kernels_t *ref = hh_kernels_for(HH_ISA_SCALAR);
    uint8_t *w = malloc(ROW_MAX * 4);
    float *a = malloc(ROW_MAX * sizeof(float)), *b = malloc((ROW_MAX + 1) * sizeof(float));
    ASSERT_TRUE(w && a && b);
    uint64_t seed = 1;
    int checked = 0;
    for (int isa = 1; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        if (k == NULL) continue;
        for (int t = 0; t < N_TYPES; t++) {
            const type_case_t *tc = &k_types[t];
            int64_t ns[8];
            int nn = row_lengths(tc, ns);
            for (int r = 0; r < 3; r++) {
                for (int j = 0; j < nn; j++) {
                    int64_t n = ns[j];
                    fill_random(tc, w, n, &seed);
                    ref->dequant[tc->type](w, a, n);
                    b[n] = 12345.0f;   /* sentinel: nothing written past n */
                    k->dequant[tc->type](w, b, n);
                    for (int64_t i = 0; i < n; i++) {
                        if (hh_f32_to_bits(a[i]) != hh_f32_to_bits(b[i])) {
                            hh_test_fail(__FILE__, __LINE__, "%s %s n=%lld: value %lld: expected %.9g (0x%08x), got %.9g (0x%08x)",
                                         hh_isa_name((hh_isa_t)isa), tc->name, (long long)n, (long long)i,
                                         a[i], hh_f32_to_bits(a[i]), b[i], hh_f32_to_bits(b[i]));
                            goto done;
                        }
                    }
                    ASSERT_TRUE(b[n] == 12345.0f);
                    checked++;
                }
            }
        }
    }
    printf("    %d rows compared\n", checked);
done:
    free(w);
    free(a);
    free(b);
}

TEST(kernels_dot_matches_f64_within_tolerance)
{
    const hh_kernels_t *ref = hh_kernels_for(HH_ISA_SCALAR);
    uint8_t *w = malloc(ROW_MAX * 4);
    float *deq = malloc(ROW_MAX * sizeof(float)), *x = malloc(ROW_MAX * sizeof(float));
    ASSERT_TRUE(w && deq && x);
    uint64_t seed = 2;
    double worst = 0.0;
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        if (k == NULL) continue;
        for (int t = 0; t < N_TYPES; t++) {
            const type_case_t *tc = &k_types[t];
            int64_t ns[8];
            int nn = row_lengths(tc, ns);
            for (int r = 0; r < 3; r++) {
                for (int j = 0; j < nn; j++) {
                    int64_t n = ns[j];
                    fill_random(tc, w, n, &seed);
                    for (int64_t i = 0; i < n; i++) x[i] = rng_unit(&seed);
                    ref->dequant[tc->type](w, deq, n);
                    double exact = 0.0, mag = 0.0;
                    for (int64_t i = 0; i < n; i++) {
                        exact += (double)deq[i] * x[i];
                        mag += fabs((double)deq[i] * x[i]);
                    }
                    double got = k->dot[tc->type](n, w, x);
                    double tol = TOL_DOT_REL * mag + 1e-30;
                    if (fabs(got - exact) / (mag + 1e-30) > worst) worst = fabs(got - exact) / (mag + 1e-30);
                    if (!(fabs(got - exact) <= tol)) {
                        hh_test_fail(__FILE__, __LINE__, "%s %s n=%lld: expected %.9g, got %.9g (tol %g)",
                                     hh_isa_name((hh_isa_t)isa), tc->name, (long long)n, exact, got, tol);
                        goto done;
                    }
                }
            }
        }
    }
    printf("    worst |dot - f64| / sum|w*x| = %.3g (TOL_DOT_REL %g)\n", worst, TOL_DOT_REL);
done:
    free(w);
    free(deq);
    free(x);
}

TEST(kernels_zero_length_writes_nothing)
{
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        if (k == NULL) continue;
        for (int t = 0; t < N_TYPES; t++) {
            float out = 7.0f, x = 1.0f;
            uint8_t w[4] = { 0 };
            k->dequant[k_types[t].type](w, &out, 0);
            ASSERT_TRUE(out == 7.0f);
            ASSERT_TRUE(k->dot[k_types[t].type](0, w, &x) == 0.0f);
        }
    }
}

/* ---- known values: one hand-built block per type --------------------------- */

/* Dequantizes one block of type t with every available ISA and checks the
 * values at the given positions (all ISAs must agree, checked above). */
static bool check_known(hh_type_t t, const void *blk, int n, const int *pos, const float *want, int npos,
                        const char *name)
{
    float out[256];
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        if (k == NULL) continue;
        k->dequant[t](blk, out, n);
        for (int i = 0; i < npos; i++) {
            if (hh_f32_to_bits(out[pos[i]]) != hh_f32_to_bits(want[i])) {
                hh_test_fail(__FILE__, __LINE__, "%s on %s: value %d: expected %.9g, got %.9g", name,
                             hh_isa_name((hh_isa_t)isa), pos[i], want[i], out[pos[i]]);
                return false;
            }
        }
        /* and the dot with x = e_pos picks out the same value */
        for (int i = 0; i < npos; i++) {
            float x[256] = { 0 };
            x[pos[i]] = 1.0f;
            float d = k->dot[t](n, blk, x);
            if (d != want[i]) {
                hh_test_fail(__FILE__, __LINE__, "%s on %s: dot with e_%d: expected %.9g, got %.9g", name,
                             hh_isa_name((hh_isa_t)isa), pos[i], want[i], d);
                return false;
            }
        }
    }
    return true;
}

#define KNOWN(t, blk, n, ...)                                                       \
    do {                                                                            \
        static const struct { int pos; float v; } kv_[] = { __VA_ARGS__ };         \
        int pos_[64];                                                               \
        float want_[64];                                                            \
        int np_ = (int)(sizeof kv_ / sizeof kv_[0]);                                \
        for (int i_ = 0; i_ < np_; i_++) { pos_[i_] = kv_[i_].pos; want_[i_] = kv_[i_].v; } \
        if (!check_known(t, blk, n, pos_, want_, np_, #t)) return;                  \
    } while (0)

TEST(kernels_known_q4_0_q4_1)
{
    /* qs[j] = j | (15 - j) << 4: value j has q = j, value 16 + j has q = 15 - j */
    hh_block_q4_0 a;
    a.d = 0x3800;   /* 0.5 */
    for (int j = 0; j < 16; j++) a.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    KNOWN(HH_TYPE_Q4_0, &a, 32, { 0, -4.0f }, { 1, -3.5f }, { 8, 0.0f }, { 15, 3.5f },
          { 16, 3.5f }, { 23, 0.0f }, { 31, -4.0f });

    hh_block_q4_1 b;
    b.d = 0x3400;   /* 0.25 */
    b.m = 0xbc00;   /* -1 */
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    KNOWN(HH_TYPE_Q4_1, &b, 32, { 0, -1.0f }, { 5, 0.25f }, { 15, 2.75f }, { 16, 2.75f }, { 31, -1.0f });
}

TEST(kernels_known_mxfp4)
{
    /* codes j | (15 - j) << 4 with e = 129 (scale 2^1 on the doubled values: x = 2 * 2 * E2M1) */
    hh_block_mxfp4 a;
    a.e = 129;
    for (int j = 0; j < 16; j++) a.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    KNOWN(HH_TYPE_MXFP4, &a, 32, { 0, 0.0f }, { 1, 2.0f }, { 5, 12.0f }, { 7, 24.0f }, { 9, -2.0f },
          { 15, -24.0f }, { 16, -24.0f }, { 23, 0.0f }, { 31, 0.0f });
    /* e = 0: 2^-128, a subnormal scale, exact */
    a.e = 0;
    KNOWN(HH_TYPE_MXFP4, &a, 32, { 1, 0x1p-128f }, { 7, 12 * 0x1p-128f }, { 15, -12 * 0x1p-128f });
    a.e = 127;
    KNOWN(HH_TYPE_MXFP4, &a, 32, { 1, 0.5f }, { 2, 1.0f }, { 6, 4.0f }, { 14, -4.0f });
}

TEST(kernels_known_q5_0_q5_1)
{
    /* low nibble 10, high nibble 3 everywhere; the 5th bit of value j is bit j of qh */
    hh_block_q5_0 a;
    a.d = 0x3c00;   /* 1 */
    memset(a.qs, 0x3a, sizeof a.qs);
    uint32_t qh = 0x80000001u;
    memcpy(a.qh, &qh, 4);
    KNOWN(HH_TYPE_Q5_0, &a, 32, { 0, 10.0f }, { 1, -6.0f }, { 15, -6.0f }, { 16, -13.0f }, { 30, -13.0f },
          { 31, 3.0f });

    hh_block_q5_1 b;
    b.d = 0x4000;   /* 2 */
    b.m = 0x3800;   /* 0.5 */
    memset(b.qs, 0x3a, sizeof b.qs);
    qh = 0x00010002u;
    memcpy(b.qh, &qh, 4);
    KNOWN(HH_TYPE_Q5_1, &b, 32, { 0, 20.5f }, { 1, 52.5f }, { 2, 20.5f }, { 16, 38.5f }, { 17, 6.5f },
          { 31, 6.5f });
}

TEST(kernels_known_q8_0_and_floats)
{
    hh_block_q8_0 a;
    a.d = 0x3000;   /* 0.125 */
    for (int j = 0; j < 32; j++) a.qs[j] = (int8_t)(j * 8 - 128);
    KNOWN(HH_TYPE_Q8_0, &a, 32, { 0, -16.0f }, { 1, -15.0f }, { 16, 0.0f }, { 31, 15.0f });

    hh_half h[32] = { 0x3c00, 0xc000, 0x0001, 0x7bff, 0x8400, 0x3555 };
    KNOWN(HH_TYPE_F16, h, 32, { 0, 1.0f }, { 1, -2.0f }, { 2, 0x1p-24f }, { 3, 65504.0f }, { 4, -0x1p-14f },
          { 5, 0x1.554p-2f }, { 31, 0.0f });

    hh_bf16 bf[32] = { 0x3f80, 0xc049, 0x0001 };
    KNOWN(HH_TYPE_BF16, bf, 32, { 0, 1.0f }, { 1, -0x1.92p+1f }, { 2, 0x1p-133f }, { 31, 0.0f });

    float f[32] = { 1.5f, -0.0f, 3e-40f };
    KNOWN(HH_TYPE_F32, f, 32, { 0, 1.5f }, { 1, -0.0f }, { 2, 3e-40f });
}

TEST(kernels_known_q2_K)
{
    /* scale of sub-block s = s, min = 15 - s; d = 1, dmin = 0.5. Every byte is
     * 0xe4 (planes 0,1,2,3 hold q = 0,1,2,3) except byte 5 = 0x1b (3,2,1,0). */
    hh_block_q2_K b;
    for (int s = 0; s < 16; s++) b.scales[s] = (uint8_t)(s | ((15 - s) << 4));
    memset(b.qs, 0xe4, sizeof b.qs);
    b.qs[5] = 0x1b;
    b.d = 0x3c00;
    b.dmin = 0x3800;
    /* value v: half v/128, plane (v/32)%4, byte 32*half + v%32, sub-block v/16 */
    KNOWN(HH_TYPE_Q2_K, &b, 256,
          { 0, -7.5f },      /* s0: 0*0 - 7.5 */
          { 5, 0.0f * 3 - 7.5f },   /* s0, byte 5 plane 0: q 3 */
          { 16, -7.0f },     /* s1, plane 0: 1*0 - 7 */
          { 37, 2.0f * 2 - 6.5f },  /* s2, plane 1, byte 5 = 0x1b -> q 2 */
          { 32, 2.0f - 6.5f },      /* s2, plane 1: q 1 */
          { 100, 6.0f * 3 - 4.5f }, /* s6, plane 3 */
          { 101, 6.0f * 0 - 4.5f }, /* s6, plane 3 of byte 5: q 0 */
          { 128, 8.0f * 0 - 3.5f }, /* s8, second half, plane 0 */
          { 133, 8.0f * 0 - 3.5f }, /* byte 37 is 0xe4 again */
          { 255, 15.0f * 3 - 0.0f });
}

TEST(kernels_known_q3_K)
{
    /* scales: sub-block s gets 6-bit value 32 + s - 8 (signed scale s - 8).
     * low 4 bits: bytes 0..7 nibbles; high 2 bits: 2-bit fields of bytes 8..11. */
    hh_block_q3_K b;
    memset(&b, 0, sizeof b);
    for (int s = 0; s < 16; s++) {
        int v = 32 + s - 8;
        if (s < 8) b.scales[s] |= (uint8_t)(v & 0x0f);
        else b.scales[s - 8] |= (uint8_t)((v & 0x0f) << 4);
        b.scales[8 + (s & 3)] |= (uint8_t)(((v >> 4) & 3) << (2 * (s >> 2)));
    }
    memset(b.qs, 0xe4, sizeof b.qs);   /* planes give 0,1,2,3 */
    b.hmask[0] = 0xff;                 /* value l = 0 of every group: no -4 */
    b.hmask[3] = 0x05;                 /* groups 0 and 2 of l = 3 */
    b.d = 0x3800;                      /* 0.5 */
    KNOWN(HH_TYPE_Q3_K, &b, 256,
          { 0, 0.5f * -8 * 0 },          /* s0 scale -8, q 0 */
          { 1, 0.5f * -8 * -4 },         /* q 0 - 4 */
          { 3, 0.5f * -8 * 0 },          /* hmask bit 0 of byte 3 set */
          { 64, 0.5f * -4 * 2 },         /* group 2 (s4, scale -4), plane 2 */
          { 67, 0.5f * -4 * 2 },         /* bit 2 of hmask[3] set */
          { 65, 0.5f * -4 * -2 },        /* 2 - 4 */
          { 99, 0.5f * -2 * -1 },        /* group 3 (s6), bit 3 clear: 3 - 4 */
          { 128, 0.5f * 0 * 0 },         /* group 4 (s8, scale 0) */
          { 255, 0.5f * 7 * -1 });       /* group 7 (s15, scale 7), plane 3, 3 - 4 */
}

/* Q4_K / Q5_K scale packing for sub-block j: 6-bit sc, m. */
static void pack_k4(uint8_t s[12], int j, int sc, int m)
{
    if (j < 4) {
        s[j] = (uint8_t)((s[j] & 0xc0) | sc);
        s[j + 4] = (uint8_t)((s[j + 4] & 0xc0) | m);
    } else {
        s[j + 4] = (uint8_t)((sc & 0x0f) | ((m & 0x0f) << 4));
        s[j - 4] = (uint8_t)((s[j - 4] & 0x3f) | ((sc >> 4) << 6));
        s[j] = (uint8_t)((s[j] & 0x3f) | ((m >> 4) << 6));
    }
}

TEST(kernels_known_q4_K_q5_K)
{
    /* 6-bit scale and min of each sub-block, both above 15 for some j so the
     * packed top bits matter */
    static const int sc[8] = { 1, 10, 19, 28, 37, 46, 55, 63 };
    static const int mn[8] = { 63, 55, 47, 39, 31, 23, 15, 7 };
    hh_block_q4_K b;
    memset(&b, 0, sizeof b);
    for (int j = 0; j < 8; j++) pack_k4(b.scales, j, sc[j], mn[j]);
    b.d = 0x3c00;     /* 1 */
    b.dmin = 0x3400;  /* 0.25 */
    for (int l = 0; l < 128; l++) b.qs[l] = (uint8_t)((l & 15) | ((15 - (l & 15)) << 4));
    /* value v: chunk v/64 (bytes 32*chunk), low nibble if (v/32) even */
    KNOWN(HH_TYPE_Q4_K, &b, 256,
          { 0, 1.0f * 0 - 15.75f },
          { 15, 1.0f * 15 - 15.75f },
          { 32, 10.0f * 15 - 13.75f },     /* high nibble of byte 0 */
          { 47, 10.0f * 0 - 13.75f },
          { 64, 19.0f * 0 - 11.75f },      /* byte 32, low */
          { 150, 37.0f * 6 - 7.75f },      /* sub-block 4, byte 86 low nibble 6 */
          { 200, 55.0f * 8 - 3.75f },      /* sub-block 6, byte 104 low nibble 8 */
          { 255, 63.0f * 0 - 1.75f });     /* sub-block 7, byte 127 high nibble 0 */

    /* Q5_K: same scales and nibbles; 5th bit of value l of sub-block g is bit g of qh[l] */
    hh_block_q5_K c;
    memset(&c, 0, sizeof c);
    memcpy(c.scales, b.scales, sizeof c.scales);
    memcpy(c.qs, b.qs, sizeof c.qs);
    c.d = b.d;
    c.dmin = b.dmin;
    c.qh[0] = 0x01;
    c.qh[3] = 0x80;
    KNOWN(HH_TYPE_Q5_K, &c, 256,
          { 0, 1.0f * 16 - 15.75f },       /* q 0 + 16 */
          { 3, 1.0f * 3 - 15.75f },
          { 32, 10.0f * 15 - 13.75f },     /* bit 1 of qh[0] clear */
          { 224, 63.0f * 15 - 1.75f },     /* byte 96 high nibble 15, bit 7 of qh[0] clear */
          { 227, 63.0f * 28 - 1.75f });    /* byte 99 high nibble 12, + 16 */
}

TEST(kernels_known_q6_K)
{
    /* scales[s] = s - 8; ql bytes 0x21 (low 1, high 2) except ql[69] = 0xf0;
     * qh bytes 0xe4 (2-bit fields 0,1,2,3); d = 0.5 */
    hh_block_q6_K b;
    for (int s = 0; s < 16; s++) b.scales[s] = (int8_t)(s - 8);
    memset(b.ql, 0x21, sizeof b.ql);
    memset(b.qh, 0xe4, sizeof b.qh);
    b.ql[69] = 0xf0;
    b.d = 0x3800;
    /* value v: half h = v/128, quarter k = (v%128)/32, l = v%32:
     * nibble k>>1 of ql[64h + 32(k&1) + l], field k of qh[32h + l], sub-block v/16 */
    KNOWN(HH_TYPE_Q6_K, &b, 256,
          { 0, -4.0f * (1 - 32) },
          { 32, -3.0f * (17 - 32) },
          { 64, -2.0f * (34 - 32) },
          { 96, -1.0f * (50 - 32) },
          { 133, -0.0f },                  /* scale 0 times q -32 */
          { 197, 2.0f * (47 - 32) },       /* ql[69] high nibble 15, field 2 */
          { 255, 3.5f * (50 - 32) });
}

/* ---- fp16 / bf16 conversions ------------------------------------------------ */

#if defined(__x86_64__)
__attribute__((target("f16c"))) static float f16c_to_f32(uint16_t h) { return _cvtsh_ss(h); }
__attribute__((target("f16c"))) static uint16_t f16c_from_f32(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
#endif

TEST(kernels_fp16_matches_f16c_exhaustively)
{
#if defined(__x86_64__)
    if (!hh_cpu()->f16c) SKIP("no F16C");
    /* every half -> f32, bit for bit (NaNs come out quiet, as F16C makes them) */
    for (uint32_t h = 0; h < 65536; h++) {
        float a = hh_fp16_to_f32((uint16_t)h), b = f16c_to_f32((uint16_t)h);
        if (hh_f32_to_bits(a) != hh_f32_to_bits(b)) {
            hh_test_fail(__FILE__, __LINE__, "half 0x%04x: expected 0x%08x, got 0x%08x", h, hh_f32_to_bits(b),
                         hh_f32_to_bits(a));
            return;
        }
        /* round trip of every half (NaNs keep their quiet payload) */
        ASSERT_EQ_INT(hh_f32_to_fp16(a), f16c_from_f32(a));
    }
    /* f32 -> half near every half boundary (ties, just above/below) and random bits */
    uint64_t seed = 3;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        uint32_t u = hh_f32_to_bits(hh_fp16_to_f32((uint16_t)h));
        uint32_t half_ulp = h < 0x0400 ? 0 : (1u << 12);   /* midpoint to the next half (normals) */
        uint32_t cand[6] = { u + 1, u - 1, u + half_ulp, u + half_ulp - 1, u + half_ulp + 1, u | 0x80000000u };
        for (int i = 0; i < 6; i++) {
            float f = hh_bits_to_f32(cand[i]);
            uint16_t want = f16c_from_f32(f), got = hh_f32_to_fp16(f);
            if (want != got) {
                hh_test_fail(__FILE__, __LINE__, "f32 0x%08x: expected 0x%04x, got 0x%04x", cand[i], want, got);
                return;
            }
        }
    }
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = (uint32_t)rng_next(&seed);
        float f = hh_bits_to_f32(u);
        uint16_t want = f16c_from_f32(f), got = hh_f32_to_fp16(f);
        if (want != got) {
            hh_test_fail(__FILE__, __LINE__, "f32 0x%08x: expected 0x%04x, got 0x%04x", u, want, got);
            return;
        }
    }
#else
    SKIP("not x86-64");
#endif
}

TEST(kernels_fp16_known_values)
{
    ASSERT_EQ_INT(hh_f32_to_fp16(1.0f), 0x3c00);
    ASSERT_EQ_INT(hh_f32_to_fp16(-2.0f), 0xc000);
    ASSERT_EQ_INT(hh_f32_to_fp16(65504.0f), 0x7bff);
    ASSERT_EQ_INT(hh_f32_to_fp16(65520.0f), 0x7c00);             /* rounds to inf */
    ASSERT_EQ_INT(hh_f32_to_fp16(65519.996f), 0x7bff);
    ASSERT_EQ_INT(hh_f32_to_fp16(0x1p-24f), 0x0001);             /* smallest subnormal */
    ASSERT_EQ_INT(hh_f32_to_fp16(0x1p-25f), 0x0000);             /* tie -> even (0) */
    ASSERT_EQ_INT(hh_f32_to_fp16(0x1.8p-24f), 0x0002);           /* tie -> even (2) */
    ASSERT_EQ_INT(hh_f32_to_fp16(1.0f + 0x1p-11f), 0x3c00);      /* tie -> even */
    ASSERT_EQ_INT(hh_f32_to_fp16(1.0f + 0x1.8p-10f), 0x3c02);    /* tie -> even (up) */
    ASSERT_TRUE(hh_fp16_to_f32(0x7e00) != hh_fp16_to_f32(0x7e00)); /* NaN */
    ASSERT_TRUE(hh_fp16_to_f32(0x7c01) != hh_fp16_to_f32(0x7c01)); /* signalling NaN stays NaN */
    ASSERT_TRUE(hh_fp16_to_f32(0xfc00) == -INFINITY);
    ASSERT_TRUE(hh_fp16_to_f32(0x03ff) == 0x1.ff8p-15f);          /* largest subnormal */
}

TEST(kernels_bf16_conversions)
{
    ASSERT_EQ_INT(hh_f32_to_bf16(1.0f), 0x3f80);
    ASSERT_EQ_INT(hh_f32_to_bf16(hh_bits_to_f32(0x3f808000u)), 0x3f80);  /* tie -> even (down) */
    ASSERT_EQ_INT(hh_f32_to_bf16(hh_bits_to_f32(0x3f818000u)), 0x3f82);  /* tie -> even (up) */
    ASSERT_EQ_INT(hh_f32_to_bf16(hh_bits_to_f32(0x3f808001u)), 0x3f81);
    ASSERT_EQ_INT(hh_f32_to_bf16(hh_bits_to_f32(0x7f7fffffu)), 0x7f80);  /* max float rounds to inf */
    uint16_t nan = hh_f32_to_bf16(hh_bits_to_f32(0x7f800001u));          /* payload only in low bits */
    ASSERT_TRUE(hh_bf16_to_f32(nan) != hh_bf16_to_f32(nan));
    for (uint32_t b = 0; b < 65536; b++) {
        float f = hh_bf16_to_f32((uint16_t)b);
        ASSERT_EQ_INT(hh_f32_to_bits(f), b << 16);
        if (f == f) ASSERT_EQ_INT(hh_f32_to_bf16(f), b);                  /* exact round trip */
    }
}

/* ---- real tensors ------------------------------------------------------------ */

/* llama-q8_0.gguf was quantized from the same F32 weights as llama-f32.gguf:
 * every dequantized Q8_0 value must lie within about half a quantization
 * step of its source (d / 2, plus the rounding of d itself to a half:
 * 127 * d * 2^-11 < 0.07 d). */
#define TOL_Q8_0_STEPS 0.57

TEST(kernels_q8_0_real_tensors_match_their_f32_source)
{
    hh_gguf_t *gq = NULL, *gf = NULL;
    float *row = NULL;
    ASSERT_OK(hh_gguf_open(&gq, hh_test_data_path("reference/llama-q8_0.gguf"), NULL, NULL));
    if (hh_gguf_open(&gf, hh_test_data_path("reference/llama-f32.gguf"), NULL, NULL) != 0) {
        hh_test_fail(__FILE__, __LINE__, "cannot open llama-f32.gguf");
        goto cleanup;
    }
    int n_checked = 0;
    for (int64_t ti = 0; ti < hh_gguf_n_tensors(gq); ti++) {
        const hh_gguf_tensor_t *tq = hh_gguf_tensor(gq, ti);
        if (tq->type != HH_TYPE_Q8_0) continue;
        const hh_gguf_tensor_t *tf = hh_gguf_find_tensor(gf, tq->name);
        if (tf == NULL || tf->type != HH_TYPE_F32 || tf->ne[0] != tq->ne[0]) {
            hh_test_fail(__FILE__, __LINE__, "%s: no matching F32 tensor", tq->name);
            goto cleanup;
        }
        int64_t ncols = tq->ne[0], nrows = (int64_t)(tf->nbytes / sizeof(float)) / ncols;
        size_t qrow = (size_t)(ncols / HH_QK8_0) * sizeof(hh_block_q8_0);
        free(row);
        row = malloc((size_t)ncols * sizeof(float));
        if (row == NULL) { hh_test_fail(__FILE__, __LINE__, "out of memory"); goto cleanup; }
        for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
            const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
            if (k == NULL) continue;
            for (int64_t r = 0; r < nrows; r++) {
                const hh_block_q8_0 *bq = (const hh_block_q8_0 *)((const uint8_t *)tq->data + r * qrow);
                const float *src = (const float *)tf->data + r * ncols;
                k->dequant[HH_TYPE_Q8_0](bq, row, ncols);
                for (int64_t i = 0; i < ncols; i++) {
                    float d = hh_fp16_to_f32(bq[i / HH_QK8_0].d);
                    if (!(fabsf(row[i] - src[i]) <= TOL_Q8_0_STEPS * d)) {
                        hh_test_fail(__FILE__, __LINE__, "%s row %lld col %lld (%s): expected %.9g (d %g), got %.9g",
                                     tq->name, (long long)r, (long long)i, hh_isa_name((hh_isa_t)isa), src[i], d,
                                     row[i]);
                        goto cleanup;
                    }
                }
            }
        }
        n_checked++;
    }
    ASSERT_GE(n_checked, 16);
cleanup:
    free(row);
    hh_gguf_close(gq);
    hh_gguf_close(gf);
}

/* ---- quantized activations and integer dots (qdot_*.c) --------------------- */

/* |qdot - float64 dot of the dequantized weights and activations| <=
 * TOL_QDOT_REL * sum |w_i * x_i| (the integer sums are exact; only the F32
 * combination of per-block sums rounds, and K-quant minimums are applied
 * through activation sums, which can cancel). */
#define TOL_QDOT_REL 2e-5
/* An activation rounded to 8 bits is within half a step (d / 2) of the
 * input. Q8_0 stores the step as F16 after rounding with the F32 step, so
 * up to 127 times the F16 rounding of the step (2^-11 relative, or
 * 2^-25 absolute where the step is a subnormal half) come on top. */
#define TOL_ACT_STEP_K  0.5001
#define TOL_ACT_STEP_Q8 (0.5001 + 127.0 / 2048.0)

static const hh_type_t k_qdot_types[] = { HH_TYPE_Q4_0, HH_TYPE_Q5_0, HH_TYPE_Q8_0, HH_TYPE_Q4_K, HH_TYPE_Q6_K,
                                          HH_TYPE_MXFP4, HH_TYPE_IQ4_NL, HH_TYPE_IQ4_XS };

static const type_case_t *type_case(hh_type_t t)
{
    for (int i = 0; i < N_TYPES; i++)
        if (k_types[i].type == t) return &k_types[i];
    return NULL;
}

/* Dequantizes an activation row of type at (Q8_0 or Q8_K). */
static void act_dequant(hh_type_t at, const void *q, float *out, int64_t n)
{
    if (at == HH_TYPE_Q8_0) {
        const hh_block_q8_0 *b = q;
        for (int64_t i = 0; i < n; i++) out[i] = hh_fp16_to_f32(b[i / 32].d) * (float)b[i / 32].qs[i % 32];
    } else {
        const hh_block_q8_K *b = q;
        for (int64_t i = 0; i < n; i++) out[i] = b[i / 256].d * (float)b[i / 256].qs[i % 256];
    }
}

TEST(kernels_quant_act_matches_ref_bit_for_bit)
{
    const hh_kernels_t *ref = hh_kernels_for(HH_ISA_SCALAR);
    const int64_t n = ROW_MAX;
    float *x = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
    uint8_t *qr = malloc(n * 2), *qk = malloc(n * 2);
    ASSERT_TRUE(x && back && qr && qk);
    uint64_t seed = 7;
    const hh_type_t ats[2] = { HH_TYPE_Q8_0, HH_TYPE_Q8_K };
    for (int r = 0; r < 4; r++) {
        for (int64_t i = 0; i < n; i++) x[i] = rng_unit(&seed) * (r == 3 ? 1e-3f : 3.0f);
        for (int i = 0; i < 256; i++) x[i] = 0.0f;                 /* an all-zero block */
        x[300] = 0.5f * (float)(r + 1);                           /* exact ties round to even */
        for (int a = 0; a < 2; a++) {
            size_t bytes;
            ASSERT_EQ_INT(hh_type_row_size(ats[a], n, &bytes), HH_OK);
            ref->quant_act[ats[a]](x, qr, n);
            /* the reference itself: every value within TOL_ACT_STEP steps */
            act_dequant(ats[a], qr, back, n);
            int blk = ats[a] == HH_TYPE_Q8_0 ? 32 : 256;
            for (int64_t i = 0; i < n; i++) {
                float d = ats[a] == HH_TYPE_Q8_0 ? hh_fp16_to_f32(((hh_block_q8_0 *)qr)[i / 32].d)
                                                 : ((hh_block_q8_K *)qr)[i / 256].d;
                double tol = ats[a] == HH_TYPE_Q8_0 ? TOL_ACT_STEP_Q8 * d + 127.0 * 0x1p-25 : TOL_ACT_STEP_K * d + 1e-30;
                if (!(fabsf(back[i] - x[i]) <= tol)) {
                    hh_test_fail(__FILE__, __LINE__, "%s value %lld (block of %d): expected %.9g, got %.9g (step %g)",
                                 hh_type_name(ats[a]), (long long)i, blk, x[i], back[i], d);
                    goto done;
                }
            }
            if (ats[a] == HH_TYPE_Q8_K) {
                const hh_block_q8_K *b = (const hh_block_q8_K *)qr;
                for (int j = 0; j < 16; j++) {
                    int s = 0;
                    for (int l = 0; l < 16; l++) s += b[1].qs[16 * j + l];
                    ASSERT_EQ_INT(b[1].bsums[j], s);
                }
            }
            for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
                const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
                if (k == NULL) continue;
                memset(qk, 0xa5, bytes);
                k->quant_act[ats[a]](x, qk, n);
                for (size_t i = 0; i < bytes; i++) {
                    if (qk[i] != qr[i]) {
                        hh_test_fail(__FILE__, __LINE__, "%s %s byte %zu: expected 0x%02x, got 0x%02x",
                                     hh_isa_name((hh_isa_t)isa), hh_type_name(ats[a]), i, qr[i], qk[i]);
                        goto done;
                    }
                }
            }
        }
    }
done:
    free(x); free(back); free(qr); free(qk);
}

TEST(kernels_qdot_matches_f64_and_columns_agree)
{
    const hh_kernels_t *ref = hh_kernels_for(HH_ISA_SCALAR);
    const int NC = HH_QDOT_MAX_COLS;
    uint8_t *w = malloc(ROW_MAX * 4), *xq = malloc((size_t)NC * ROW_MAX * 2);
    float *deq = malloc(ROW_MAX * sizeof(float)), *x = malloc(ROW_MAX * sizeof(float));
    float *xd = malloc((size_t)NC * ROW_MAX * sizeof(float));
    ASSERT_TRUE(w && xq && deq && x && xd);
    uint64_t seed = 11;
    double worst = 0.0;
    for (size_t ti = 0; ti < sizeof k_qdot_types / sizeof k_qdot_types[0]; ti++) {
        const type_case_t *tc = type_case(k_qdot_types[ti]);
        ASSERT_TRUE(tc != NULL && ref->qdot[tc->type] != NULL);
        const hh_type_t at = (hh_type_t)ref->act_type[tc->type];
        int64_t ns[8];
        int nn = row_lengths(tc, ns);
        for (int j = 0; j < nn; j++) {
            const int64_t n = ns[j];
            size_t xs;
            ASSERT_EQ_INT(hh_type_row_size(at, n, &xs), HH_OK);
            fill_random(tc, w, n, &seed);
            ref->dequant[tc->type](w, deq, n);
            for (int c = 0; c < NC; c++) {
                for (int64_t i = 0; i < n; i++) x[i] = rng_unit(&seed) * 2.0f;
                ref->quant_act[at](x, xq + (size_t)c * xs, n);
                act_dequant(at, xq + (size_t)c * xs, xd + (size_t)c * n, n);
            }
            for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
                const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
                if (k == NULL) continue;
                ASSERT_TRUE(k->qdot[tc->type] != NULL && k->act_type[tc->type] == (uint32_t)at);
                float all[HH_QDOT_MAX_COLS];
                k->qdot[tc->type](n, w, xq, xs, NC, all);
                for (int nc = 1; nc <= NC; nc++) {
                    float got[HH_QDOT_MAX_COLS];
                    k->qdot[tc->type](n, w, xq, xs, nc, got);
                    for (int c = 0; c < nc; c++) {
                        double exact = 0.0, mag = 0.0;
                        for (int64_t i = 0; i < n; i++) {
                            exact += (double)deq[i] * xd[(size_t)c * n + i];
                            mag += fabs((double)deq[i] * xd[(size_t)c * n + i]);
                        }
                        double e = fabs(got[c] - exact) / (mag + 1e-30);
                        if (e > worst) worst = e;
                        if (!(e <= TOL_QDOT_REL) || got[c] != all[c]) {
                            hh_test_fail(__FILE__, __LINE__,
                                         "%s %s n=%lld col %d/%d: expected %.9g (f64), got %.9g, with 4 columns %.9g",
                                         hh_isa_name((hh_isa_t)isa), tc->name, (long long)n, c, nc, exact, got[c], all[c]);
                            goto done;
                        }
                    }
                }
            }
        }
    }
    printf("    worst |qdot - f64| / sum|w*x| = %.3g (TOL_QDOT_REL %g)\n", worst, TOL_QDOT_REL);
done:
    free(w); free(xq); free(deq); free(x); free(xd);
}

/* ---- x4 layout (rows interleaved by 4, repack.c + gemm_x4) ----------------- */

/* Weight rows of the x4 test: 3 groups, so the kernels' 2-group step and
 * its 1-group tail both run; tokens: an 8-token step and a 3-token tail. */
#define X4_ROWS 12
#define X4_TOKS 11

TEST(kernels_x4_repack_quant_and_gemm_match_reference)
{
    const hh_kernels_t *ref = hh_kernels_for(HH_ISA_SCALAR);
    const hh_type_t types[7] = { HH_TYPE_Q4_0, HH_TYPE_Q8_0, HH_TYPE_Q4_K, HH_TYPE_Q5_0, HH_TYPE_Q6_K, HH_TYPE_Q5_K,
                                 HH_TYPE_IQ4_NL };
    uint8_t *w = malloc((size_t)X4_ROWS * ROW_MAX * 2), *orig = malloc((size_t)X4_ROWS * ROW_MAX * 2);
    uint8_t *xq = malloc((size_t)X4_TOKS * ROW_MAX * 2), *xr = malloc(ROW_MAX * 2);
    float *deq = malloc((size_t)X4_ROWS * ROW_MAX * sizeof(float)), *xd = malloc((size_t)X4_TOKS * ROW_MAX * sizeof(float));
    float *x = malloc(ROW_MAX * sizeof(float)), *row = malloc(ROW_MAX * sizeof(float));
    ASSERT_TRUE(w && orig && xq && xr && deq && xd && x && row);
    uint64_t seed = 23;
    double worst = 0.0;
    int ran = 0;
    int isas = 0;
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        if (k == NULL || k->quant_x4 == NULL) continue;
        isas++;
        for (int ti = 0; ti < 7; ti++) {
            const type_case_t *tc = type_case(types[ti]);
            ASSERT_TRUE(tc != NULL);
            if (k->gemm_x4[tc->type] == NULL) {
                printf("    x4: %s has no gemm_x4 for %s, skipped\n", hh_isa_name((hh_isa_t)isa), tc->name);
                continue;
            }
            /* plain Q8_K activations */
            const bool kq = tc->type == HH_TYPE_Q4_K || tc->type == HH_TYPE_Q5_K || tc->type == HH_TYPE_Q6_K;
            for (int j = 0; j < 3; j++) {
                const int64_t n = j == 2 ? ROW_MAX : (j == 0 ? 1 : 11) * tc->blck;
                const size_t rb = (size_t)(n / tc->blck) * tc->size;
                size_t xs = (size_t)(n / 32) * sizeof(hh_block_q8x);
                if (kq) ASSERT_EQ_INT(hh_type_row_size(HH_TYPE_Q8_K, n, &xs), HH_OK);
                for (int r = 0; r < X4_ROWS; r++) {
                    fill_random(tc, orig + r * rb, n, &seed);
                    ref->dequant[tc->type](orig + r * rb, deq + (size_t)r * n, n);
                }
                /* activations: same values and step as the reference Q8_0 rounding */
                for (int t = 0; t < X4_TOKS; t++) {
                    for (int64_t i = 0; i < n; i++) x[i] = rng_unit(&seed) * (t == 2 ? 1e-3f : 2.0f);
                    if (t == 1) for (int i = 0; i < 32; i++) x[i] = 0.0f;
                    if (kq) {
                        ref->quant_act[HH_TYPE_Q8_K](x, xq + (size_t)t * xs, n);
                        act_dequant(HH_TYPE_Q8_K, xq + (size_t)t * xs, xd + (size_t)t * n, n);
                        continue;
                    }
                    hh_block_q8x *b = (hh_block_q8x *)(xq + (size_t)t * xs);
                    k->quant_x4(x, b, n);
                    ref->quant_act[HH_TYPE_Q8_0](x, xr, n);
                    for (int64_t i = 0; i < n / 32; i++) {
                        const hh_block_q8_0 *e = (const hh_block_q8_0 *)xr + i;
                        int sum = 0;
                        for (int l = 0; l < 32; l++) {
                            sum += b[i].qs[l];
                            if (b[i].qs[l] != e->qs[l]) {
                                hh_test_fail(__FILE__, __LINE__, "%s quant_x4 block %lld value %d: expected %d, got %d",
                                             hh_isa_name((hh_isa_t)isa), (long long)i, l, e->qs[l], b[i].qs[l]);
                                goto done;
                            }
                        }
                        ASSERT_TRUE(b[i].d == hh_fp16_to_f32(e->d));
                        ASSERT_TRUE(b[i].s == -2.0f * b[i].d * (float)sum);
                        for (int l = 0; l < 32; l++) xd[(size_t)t * n + 32 * i + l] = b[i].d * (float)b[i].qs[l];
                    }
                }
                /* repack in place; every row dequantizes to the original bits */
                memcpy(w, orig, X4_ROWS * rb);
                hh_mat_t m = { w, tc->type, n, X4_ROWS, rb, X4_ROWS * rb, false };
                ASSERT_TRUE(hh_repack_x4_ok(k, &m));
                ASSERT_EQ_INT(hh_repack_x4(&m), HH_OK);
                ASSERT_TRUE(m.x4);
                for (int r = 0; r < X4_ROWS; r++) {
                    hh_x4_dequant_row(&m, r, row);
                    ASSERT_TRUE(memcmp(row, deq + (size_t)r * n, (size_t)n * sizeof(float)) == 0);
                }
                /* all groups x all tokens vs float64, and vs one group x one token calls */
                float y[X4_TOKS * X4_ROWS], y1[4];
                const size_t grp = 4 * rb;
                k->gemm_x4[tc->type](n, w, X4_ROWS / 4, grp, xq, xs, X4_TOKS, y, X4_ROWS);
                for (int t = 0; t < X4_TOKS; t++) {
                    for (int g = 0; g < X4_ROWS / 4; g++) {
                        k->gemm_x4[tc->type](n, w + g * grp, 1, grp, xq + (size_t)t * xs, xs, 1, y1, 4);
                        for (int r = 4 * g; r < 4 * g + 4; r++) {
                            double exact = 0.0, mag = 0.0;
                            for (int64_t i = 0; i < n; i++) {
                                double p = (double)deq[(size_t)r * n + i] * xd[(size_t)t * n + i];
                                exact += p;
                                mag += fabs(p);
                            }
                            const float got = y[t * X4_ROWS + r];
                            double e = fabs(got - exact) / (mag + 1e-30);
                            if (e > worst) worst = e;
                            if (!(e <= TOL_QDOT_REL) || got != y1[r - 4 * g]) {
                                hh_test_fail(__FILE__, __LINE__,
                                             "%s %s n=%lld row %d token %d: expected %.9g (f64), got %.9g, alone %.9g",
                                             hh_isa_name((hh_isa_t)isa), tc->name, (long long)n, r, t, exact, got,
                                             y1[r - 4 * g]);
                                goto done;
                            }
                        }
                    }
                }
                ran++;
            }
        }
    }
    /* the x86 quant_x4 variants write identical bytes (one activation
     * buffer serves both ISAs' kernels); every third block has step 1
     * (amax 127), so its values l - 16.5 are exact rounding ties */
    const hh_kernels_t *k2 = hh_kernels_for(HH_ISA_AVX2), *k5 = hh_kernels_for(HH_ISA_AVX512);
    if (k2 != NULL && k5 != NULL && k2->quant_x4 != NULL && k5->quant_x4 != NULL) {
        const int64_t n = ROW_MAX;
        hh_block_q8x *b2 = (hh_block_q8x *)xq, *b5 = (hh_block_q8x *)xr;
        for (int64_t i = 0; i < n; i++) {
            x[i] = rng_unit(&seed) * 3.0f;
            if ((i / 32) % 3 == 0) x[i] = i % 32 == 0 ? 127.0f : (float)(i % 32) - 16.5f;
        }
        for (int i = 32; i < 64; i++) x[i] = 0.0f;
        k2->quant_x4(x, b2, n);
        k5->quant_x4(x, b5, n);
        for (int64_t i = 0; i < n / 32; i++) {
            if (memcmp(b2[i].qs, b5[i].qs, 32) != 0 || b2[i].d != b5[i].d || b2[i].s != b5[i].s) {
                hh_test_fail(__FILE__, __LINE__, "quant_x4 block %lld: avx512 d %.9g s %.9g q0 %d, avx2 d %.9g s %.9g q0 %d",
                             (long long)i, b5[i].d, b5[i].s, b5[i].qs[0], b2[i].d, b2[i].s, b2[i].qs[0]);
                goto done;
            }
        }
        printf("    x4: avx2 and avx512 quant_x4 identical over %lld blocks\n", (long long)(n / 32));
    }
    printf("    x4: %d ISAs, %d cases, worst |gemm - f64| / sum|w*x| = %.3g (TOL_QDOT_REL %g)\n", isas, ran, worst,
           TOL_QDOT_REL);
done:
    free(w); free(orig); free(xq); free(xr); free(deq); free(xd); free(x); free(row);
}

/* ---- attention --------------------------------------------------------------- */

/* Largest |attn - f64| over every ISA's attention kernel, head sizes with and
 * without a SIMD path, F16 and F32 caches, and visible lengths around the
 * tile size; and every row equal, bit for bit, to the same row run alone. */
#define TOL_ATTN_ABS 2e-6
TEST(kernels_attn_matches_f64_and_rows_are_independent)
{
    enum { N_TOK = 5, N_HEAD = 3, MAX_POS = 75 };
    static const int32_t hds[] = { 64, 80, 40, 128 };
    static const int32_t n_pos_set[N_TOK] = { 1, 31, 32, 33, 75 };
    uint64_t rs = 0x5eed;
    double worst = 0.0;
    int ran = 0;
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
        const int32_t hd = hds[hi];
        const size_t q_stride = (size_t)N_HEAD * (size_t)hd + 8;   /* rows not packed */
        float *q = malloc(sizeof(float) * N_TOK * q_stride);
        float *out = malloc(sizeof(float) * N_TOK * q_stride);
        float *one = malloc(sizeof(float) * (size_t)hd);
        float *kf = malloc(sizeof(float) * MAX_POS * (size_t)hd), *vf = malloc(sizeof(float) * MAX_POS * (size_t)hd);
        uint16_t *kh = malloc(sizeof(uint16_t) * MAX_POS * (size_t)hd);
        uint16_t *vh = malloc(sizeof(uint16_t) * MAX_POS * (size_t)hd);
        float *scratch = malloc(sizeof(float) * hh_attn_scratch_floats(hd, N_TOK * N_HEAD));
        ASSERT_TRUE(q && out && one && kf && vf && kh && vh && scratch);
        for (size_t i = 0; i < N_TOK * q_stride; i++)
            q[i] = 2.0f * rng_unit(&rs);
        for (size_t i = 0; i < MAX_POS * (size_t)hd; i++) {
            kh[i] = hh_f32_to_fp16(rng_unit(&rs));
            vh[i] = hh_f32_to_fp16(rng_unit(&rs));
            kf[i] = hh_fp16_to_f32(kh[i]);   /* both caches hold the same values */
            vf[i] = hh_fp16_to_f32(vh[i]);
        }
        /* modes: F32 / F16 cache, without / with gpt-oss attention sinks (one
         * logit per head in the softmax denominator, no value) */
        static const float sinks[N_HEAD] = { -1.5f, 0.7f, 3.0f };
        for (int mode = 0; mode < 4; mode++) {
            const int f16 = mode & 1, sk = mode >> 1;
            for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
                const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
                if (k == NULL)
                    continue;
                ASSERT_TRUE(k->attn != NULL);
                hh_attn_job_t j = { .hd = hd, .n_tok = N_TOK, .n_head = N_HEAD, .q = q, .out = out,
                                    .q_stride = q_stride, .n_pos = n_pos_set,
                                    .k = f16 ? (const void *)kh : (const void *)kf,
                                    .v = f16 ? (const void *)vh : (const void *)vf,
                                    .kv_stride = (size_t)hd * (f16 ? sizeof(uint16_t) : sizeof(float)),
                                    .f16 = f16, .scale = 1.0f / sqrtf((float)hd), .scratch = scratch,
                                    .sink = sk ? sinks : NULL };
                k->attn(&j);
                for (int t = 0; t < N_TOK; t++) {
                    for (int h = 0; h < N_HEAD; h++) {
                        const float *qr = q + (size_t)t * q_stride + (size_t)h * (size_t)hd;
                        const float *got = out + (size_t)t * q_stride + (size_t)h * (size_t)hd;
                        double sc[MAX_POS], mx = -1e300, sum = 0.0;
                        for (int p = 0; p < n_pos_set[t]; p++) {
                            double d = 0.0;
                            for (int i = 0; i < hd; i++)
                                d += (double)qr[i] * kf[(size_t)p * (size_t)hd + (size_t)i];
                            sc[p] = d / sqrt((double)hd);
                            mx = sc[p] > mx ? sc[p] : mx;
                        }
                        for (int p = 0; p < n_pos_set[t]; p++)
                            sum += (sc[p] = exp(sc[p] - mx));
                        if (sk)
                            sum += exp((double)sinks[h] - mx);
                        for (int i = 0; i < hd; i++) {
                            double want = 0.0;
                            for (int p = 0; p < n_pos_set[t]; p++)
                                want += sc[p] / sum * vf[(size_t)p * (size_t)hd + (size_t)i];
                            double e = fabs((double)got[i] - want);
                            worst = e > worst ? e : worst;
                            if (e > TOL_ATTN_ABS)
                                printf("    %s hd %d mode %d row (%d,%d)[%d]: got %.8g want %.8g\n",
                                       hh_isa_name((hh_isa_t)isa), hd, mode, t, h, i, got[i], want);
                            ASSERT_TRUE(e <= TOL_ATTN_ABS);
                        }
                        /* the same row alone: one token, one head */
                        hh_attn_job_t j1 = j;
                        j1.n_tok = 1;
                        j1.n_head = 1;
                        j1.q = qr;
                        j1.out = one;
                        j1.n_pos = &n_pos_set[t];
                        j1.sink = sk ? sinks + h : NULL;
                        k->attn(&j1);
                        ASSERT_TRUE(memcmp(one, got, sizeof(float) * (size_t)hd) == 0);
                        ran++;
                    }
                }
            }
        }
        free(q); free(out); free(one); free(kf); free(vf); free(kh); free(vh); free(scratch);
    }
    printf("    attn: %d rows, worst |attn - f64| = %.3g (TOL_ATTN_ABS %g)\n", ran, worst, TOL_ATTN_ABS);
}

/* ---- SwiGLU ------------------------------------------------------------------ */

/* Every ISA's swiglu against float64 silu(g) * u over gates from -100 to
 * 100 (both exp tails: no overflow, no NaN), lengths with vector tails. */
#define TOL_SWIGLU_REL 1e-6
TEST(kernels_swiglu_matches_f64)
{
    enum { N = 203 };
    float g0[N], u[N], g[N];
    uint64_t rs = 77;
    for (int i = 0; i < N; i++) {
        g0[i] = i < 8 ? (float)(i - 4) * 25.0f : 12.0f * rng_unit(&rs);   /* -100 .. 75, then |g| < 12 */
        u[i] = 2.0f * rng_unit(&rs);
    }
    g0[8] = 0.0f;
    g0[9] = -0.0f;
    double worst = 0.0;
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        if (k == NULL)
            continue;
        ASSERT_TRUE(k->swiglu != NULL);
        for (int n = N - 3; n <= N; n++) {
            memcpy(g, g0, sizeof g);
            k->swiglu(g, u, n);
            for (int i = 0; i < N; i++) {
                if (i >= n) {   /* nothing past n is written */
                    ASSERT_TRUE(g[i] == g0[i]);
                    continue;
                }
                const double x = g0[i], want = x / (1.0 + exp(-x)) * u[i];
                const double e = fabs(g[i] - want) / (fabs(x * u[i]) + 1e-30);
                worst = e > worst ? e : worst;
                if (!(e <= TOL_SWIGLU_REL))
                    printf("    %s swiglu[%d] g %.9g u %.9g: got %.9g want %.9g\n", hh_isa_name((hh_isa_t)isa), i,
                           g0[i], u[i], g[i], want);
                ASSERT_TRUE(e <= TOL_SWIGLU_REL);
            }
        }
    }
    printf("    swiglu: worst |got - f64| / |g u| = %.3g (TOL_SWIGLU_REL %g)\n", worst, TOL_SWIGLU_REL);
}
