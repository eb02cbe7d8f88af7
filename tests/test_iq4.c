/* test_iq4.c - the IQ4_NL and IQ4_XS weight types (ggml ids 20 and 23).
 *
 *   known blocks: hand-computed values that pin the layouts (nibble order,
 *     the 6-bit sub-block scales of IQ4_XS split over scales_l / scales_h)
 *     on every ISA this CPU runs;
 *   every ISA against the scalar reference on random and extreme blocks:
 *     dequantization bit for bit, F32 dots and quantized-activation dots
 *     (Q8_0 for IQ4_NL, Q8_K for IQ4_XS, as llama.cpp pairs them) within
 *     float reassociation;
 *   the quantizer: exact round trip of representable blocks, error below
 *     Q4_0's on Gaussian data;
 *   hostile files: a truncated IQ4 tensor, an IQ4_XS row that is not a
 *     multiple of 256, a truncated IQ4_XS model;
 *   tier A: a model quantized by hoheit's own quantizer, exact path against
 *     the F32 path on its dequantized weights; and the llama.cpp-quantized
 *     fixtures (tests/fixtures/reference-iq4, see PROVENANCE.md there)
 *     against llama.cpp's run on their dequantized F32 copies (`_deq`);
 *   tier B: the fast path against llama.cpp's own logits of the same files;
 *   both tiers with the weights mapped (stored rows) and read into memory
 *   (IQ4_NL repacked into the x4 layout where the CPU has its kernel).
 *   `hoheit inspect` names the types. */
#include "harness.h"
#include "gguf/gguf.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quantize.h"
#include "model/model.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#define FIXTURES "tests/fixtures/reference-iq4"
#define GREEDY_STEPS 32
/* |dot - float64 dot| <= TOL_REL * sum |w_i x_i| (F32 sums in any order). */
#define TOL_REL 2e-5
/* Tier A (as for every other type, tests/test_model.c): max abs, rel L2. */
#define TIER_A_ABS 0.03
#define TIER_A_L2  0.0015

static const int8_t k_levels[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_unit(uint64_t *s) { return (float)((double)(rng_next(s) >> 11) * 0x1p-52 - 1.0); }

/* Standard normal (Box-Muller). */
static float rng_gauss(uint64_t *s)
{
    double u = ((double)(rng_next(s) >> 11) + 1.0) * 0x1p-53, v = (double)(rng_next(s) >> 11) * 0x1p-53;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- known blocks ------------------------------------------------------------ */

/* Dequantizes blk (n values of type t) on every ISA; each must give want[]
 * exactly, and dot with e_i must pick out want[i]. */
static bool check_block(uint32_t t, const void *blk, int n, const float *want, const char *what)
{
    int isas = 0;
    for (int isa = 0; isa < HH_ISA_COUNT; isa++) {
        const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
        if (k == NULL) continue;
        isas++;
        float got[256];
        k->dequant[t](blk, got, n);
        for (int i = 0; i < n; i++) {
            if (got[i] != want[i]) {
                hh_test_fail(__FILE__, __LINE__, "%s on %s: value %d: expected %.9g, got %.9g", what,
                             hh_isa_name((hh_isa_t)isa), i, want[i], got[i]);
                return false;
            }
            float x[256] = { 0 };
            x[i] = 1.0f;
            float d = k->dot[t](n, blk, x);
            if (d != want[i]) {
                hh_test_fail(__FILE__, __LINE__, "%s on %s: dot with e_%d: expected %.9g, got %.9g", what,
                             hh_isa_name((hh_isa_t)isa), i, want[i], d);
                return false;
            }
        }
    }
    printf("    %s: %d values on %d ISAs\n", what, n, isas);
    return isas >= 1;
}

TEST(iq4_known_nl_block)
{
    /* d = 0.5; byte j = code j (value j) | code 15 - j (value 16 + j) */
    hh_block_iq4_nl b;
    b.d = 0x3800;
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    float want[32];
    for (int j = 0; j < 16; j++) {
        want[j] = 0.5f * k_levels[j];
        want[16 + j] = 0.5f * k_levels[15 - j];
    }
    /* a few written out: the table's ends and its smallest level */
    ASSERT_TRUE(want[0] == -63.5f && want[8] == 0.5f && want[15] == 56.5f && want[16] == 56.5f && want[31] == -63.5f);
    if (!check_block(HH_TYPE_IQ4_NL, &b, 32, want, "iq4_nl d=0.5")) return;
    /* a subnormal half scale (2^-24) times the levels, exact */
    b.d = 0x0001;
    for (int j = 0; j < 16; j++) {
        want[j] = 0x1p-24f * k_levels[j];
        want[16 + j] = 0x1p-24f * k_levels[15 - j];
    }
    if (!check_block(HH_TYPE_IQ4_NL, &b, 32, want, "iq4_nl d=2^-24")) return;
    size_t rs;
    ASSERT_OK(hh_type_row_size(HH_TYPE_IQ4_NL, 64, &rs));
    ASSERT_EQ_INT(rs, 36);
    ASSERT_EQ_INT(hh_type_row_size(HH_TYPE_IQ4_NL, 48, &rs), HH_EINVAL);
    ASSERT_EQ_INT(hh_type_from_name("IQ4_NL"), 20);
    ASSERT_STREQ(hh_type_name(20), "iq4_nl");
    ASSERT_TRUE(hh_type_traits(20)->compute);
}

TEST(iq4_known_xs_superblock)
{
    /* d = 0.25; 6-bit scales ls = 0, 63, 32, 33, 31, 1, 40, 20 (minus 32:
     * -32, 31, 0, 1, -1, -31, 8, -12), packed by hand: low nibbles in
     * scales_l (sub-block 2k low, 2k+1 high), top 2 bits in scales_h
     * (bits 2j, 2j+1): 0,3,2,2,1,0,2,1 -> 0x61ac */
    hh_block_iq4_xs b;
    b.d = 0x3400;
    b.scales_l[0] = 0xf0;
    b.scales_l[1] = 0x10;
    b.scales_l[2] = 0x1f;
    b.scales_l[3] = 0x48;
    b.scales_h = 0x61ac;
    static const int sc[8] = { -32, 31, 0, 1, -1, -31, 8, -12 };
    for (int j = 0; j < 8; j++) ASSERT_EQ_INT(hh_iq4xs_scale(&b, j), sc[j]);
    for (int j = 0; j < 8; j++)
        for (int l = 0; l < 16; l++) b.qs[16 * j + l] = (uint8_t)(l | ((15 - l) << 4));
    float want[256];
    for (int j = 0; j < 8; j++)
        for (int l = 0; l < 16; l++) {
            want[32 * j + l] = 0.25f * (float)sc[j] * k_levels[l];
            want[32 * j + 16 + l] = 0.25f * (float)sc[j] * k_levels[15 - l];
        }
    ASSERT_TRUE(want[0] == 1016.0f);          /* 0.25 * -32 * -127 */
    ASSERT_TRUE(want[47] == 875.75f);         /* sub-block 1, value 15: 0.25 * 31 * 113 */
    ASSERT_TRUE(want[64] == 0.0f);            /* scale 0 */
    ASSERT_TRUE(want[96] == -31.75f);         /* 0.25 * 1 * -127 */
    ASSERT_TRUE(want[176] == -875.75f);       /* sub-block 5, value 16: 0.25 * -31 * 113 */
    ASSERT_TRUE(want[223] == -254.0f);        /* sub-block 6, value 31: 0.25 * 8 * -127 */
    ASSERT_TRUE(want[232] == -3.0f);          /* sub-block 7, value 8: 0.25 * -12 * 1 */
    if (!check_block(HH_TYPE_IQ4_XS, &b, 256, want, "iq4_xs")) return;
    size_t rs;
    ASSERT_OK(hh_type_row_size(HH_TYPE_IQ4_XS, 512, &rs));
    ASSERT_EQ_INT(rs, 272);
    ASSERT_EQ_INT(hh_type_row_size(HH_TYPE_IQ4_XS, 288, &rs), HH_EINVAL);
    ASSERT_EQ_INT(hh_type_from_name("iq4_xs"), 23);
    ASSERT_TRUE(hh_type_traits(23)->compute);
    ASSERT_TRUE(strstr(hh_type_supported_list(), "iq4_nl, iq4_xs") != NULL);
}

/* ---- every ISA against the scalar reference ---------------------------------- */

/* A half scale: mostly moderate, some extreme (largest finite, smallest
 * subnormal, zero, negative). */
static hh_half xs_scale(uint64_t *s)
{
    static const hh_half extreme[] = { 0x7bff, 0xfbff, 0x0001, 0x8001, 0x0000, 0x03ff, 0x0400 };
    uint64_t r = rng_next(s);
    if ((r & 7) == 0) return extreme[(r >> 8) % (sizeof extreme / sizeof extreme[0])];
    return hh_f32_to_fp16((0.001f + (float)((r >> 12) & 0xffff) / 65536.0f) * ((r >> 40) & 1 ? -1.0f : 1.0f));
}

static void fill_blocks(uint32_t t, void *buf, int64_t n, uint64_t *s)
{
    const hh_type_traits_t *tr = hh_type_traits(t);
    const size_t nb = (size_t)(n / tr->blck);
    uint8_t *p = buf;
    for (size_t i = 0; i < nb * tr->type_size; i++) p[i] = (uint8_t)rng_next(s);
    for (size_t i = 0; i < nb; i++) {
        if (t == HH_TYPE_IQ4_NL) {
            ((hh_block_iq4_nl *)buf)[i].d = xs_scale(s);
        } else {
            hh_block_iq4_xs *b = (hh_block_iq4_xs *)buf + i;
            b->d = xs_scale(s);
            uint64_t r = rng_next(s) & 7;
            if (r == 0) { memset(b->scales_l, 0x00, 4); b->scales_h = 0x0000; }   /* every scale -32 */
            if (r == 1) { memset(b->scales_l, 0xff, 4); b->scales_h = 0xffff; }   /* every scale 31 */
        }
    }
}

TEST(iq4_isa_paths_match_scalar_reference)
{
    const hh_kernels_t *ref = hh_kernels_for(HH_ISA_SCALAR);
    const int64_t NMAX = 4096;
    const int NC = HH_QDOT_MAX_COLS;
    uint8_t *w = malloc((size_t)NMAX), *xq = malloc((size_t)NC * NMAX * 2);
    float *a = malloc(sizeof(float) * (size_t)NMAX), *b = malloc(sizeof(float) * (size_t)(NMAX + 1));
    float *x = malloc(sizeof(float) * (size_t)NMAX * NC);
    ASSERT_TRUE(w && xq && a && b && x);
    uint64_t seed = 15;
    const uint32_t types[2] = { HH_TYPE_IQ4_NL, HH_TYPE_IQ4_XS };
    int compared = 0, isas = 0;
    double worst_dot = 0, worst_qdot = 0;
    for (int isa = 0; isa < HH_ISA_COUNT; isa++)
        isas += hh_kernels_for((hh_isa_t)isa) != NULL;
    for (int ti = 0; ti < 2; ti++) {
        const uint32_t t = types[ti];
        const uint32_t at = ref->act_type[t];
        ASSERT_EQ_INT(at, t == HH_TYPE_IQ4_NL ? HH_TYPE_Q8_0 : HH_TYPE_Q8_K);
        const int blck = hh_type_traits(t)->blck;
        const int64_t lens[4] = { blck, 3 * blck, 11 * 32 > blck ? 11 * 32 : 2 * blck, NMAX };
        for (int rep = 0; rep < 6; rep++) {
            for (int li = 0; li < 4; li++) {
                const int64_t n = lens[li] - lens[li] % blck;
                fill_blocks(t, w, n, &seed);
                for (int64_t i = 0; i < n * NC; i++) x[i] = rng_unit(&seed) * (rep == 5 ? 1e3f : 2.0f);
                size_t xs;
                ASSERT_OK(hh_type_row_size(at, n, &xs));
                for (int c = 0; c < NC; c++) ref->quant_act[at](x + c * n, xq + (size_t)c * xs, n);
                ref->dequant[t](w, a, n);
                double mag = 0;
                for (int64_t i = 0; i < n; i++) mag += fabs((double)a[i] * x[i]);
                float want_dot = ref->dot[t](n, w, x), want_q[HH_QDOT_MAX_COLS];
                ref->qdot[t](n, w, xq, xs, NC, want_q);
                /* the reference qdot against float64 on the rounded activations */
                for (int c = 0; c < NC; c++) {
                    double exact = 0, qmag = 0;
                    for (int64_t i = 0; i < n; i++) {
                        float xv = at == HH_TYPE_Q8_0
                                       ? hh_fp16_to_f32(((hh_block_q8_0 *)(xq + (size_t)c * xs))[i / 32].d) *
                                             (float)((hh_block_q8_0 *)(xq + (size_t)c * xs))[i / 32].qs[i % 32]
                                       : ((hh_block_q8_K *)(xq + (size_t)c * xs))[i / 256].d *
                                             (float)((hh_block_q8_K *)(xq + (size_t)c * xs))[i / 256].qs[i % 256];
                        exact += (double)a[i] * xv;
                        qmag += fabs((double)a[i] * xv);
                    }
                    ASSERT_LE(fabs(want_q[c] - exact), TOL_REL * qmag + 1e-30);
                }
                for (int isa = 1; isa < HH_ISA_COUNT; isa++) {
                    const hh_kernels_t *k = hh_kernels_for((hh_isa_t)isa);
                    if (k == NULL) continue;
                    b[n] = 777.0f;
                    k->dequant[t](w, b, n);
                    ASSERT_TRUE(b[n] == 777.0f);
                    for (int64_t i = 0; i < n; i++) {
                        if (hh_f32_to_bits(a[i]) != hh_f32_to_bits(b[i])) {
                            hh_test_fail(__FILE__, __LINE__, "%s %s n=%lld value %lld: expected %.9g, got %.9g",
                                         hh_isa_name((hh_isa_t)isa), hh_type_name(t), (long long)n, (long long)i,
                                         a[i], b[i]);
                            goto done;
                        }
                    }
                    const double ed = fabs(k->dot[t](n, w, x) - want_dot) / (mag + 1e-30);
                    if (ed > worst_dot) worst_dot = ed;
                    ASSERT_LE(ed, TOL_REL);
                    for (int nc = 1; nc <= NC; nc++) {
                        float got[HH_QDOT_MAX_COLS];
                        k->qdot[t](n, w, xq, xs, nc, got);
                        for (int c = 0; c < nc; c++) {
                            double qmag = 0;
                            for (int64_t i = 0; i < n; i++) qmag += fabs((double)a[i] * x[c * n + i]);
                            const double eq = fabs(got[c] - want_q[c]) / (qmag + 1e-30);
                            if (eq > worst_qdot) worst_qdot = eq;
                            if (!(eq <= TOL_REL)) {
                                hh_test_fail(__FILE__, __LINE__, "%s %s qdot n=%lld col %d/%d: expected %.9g, got %.9g",
                                             hh_isa_name((hh_isa_t)isa), hh_type_name(t), (long long)n, c, nc,
                                             want_q[c], got[c]);
                                goto done;
                            }
                        }
                    }
                    compared++;
                }
            }
        }
    }
    printf("    %d ISA(s) incl. scalar, %d rows compared against the scalar reference; worst dot %.3g, qdot %.3g "
           "(TOL_REL %g)\n", isas, compared, worst_dot, worst_qdot, TOL_REL);
done:
    free(w); free(xq); free(a); free(b); free(x);
}

/* ---- quantizer --------------------------------------------------------------- */

TEST(iq4_quantize_round_trip_and_error)
{
    const hh_kernels_t *ref = hh_kernels_for(HH_ISA_SCALAR);
    /* a representable IQ4_NL block (d = 0.5, code 0 present so -63.5 is the
     * largest magnitude) comes back bit for bit */
    float x[4096], y[4096];
    uint64_t seed = 3;
    for (int i = 0; i < 32; i++) x[i] = 0.5f * k_levels[i == 5 ? 0 : rng_next(&seed) & 15];
    hh_block_iq4_nl nl;
    ASSERT_OK(hh_quantize_row(HH_TYPE_IQ4_NL, x, &nl, 32));
    ref->dequant[HH_TYPE_IQ4_NL](&nl, y, 32);
    for (int i = 0; i < 32; i++) ASSERT_TRUE(y[i] == x[i]);
    /* all zero: zeros */
    memset(x, 0, sizeof x);
    hh_block_iq4_xs xsb[16];
    ASSERT_OK(hh_quantize_row(HH_TYPE_IQ4_XS, x, xsb, 256));
    ref->dequant[HH_TYPE_IQ4_XS](xsb, y, 256);
    for (int i = 0; i < 256; i++) ASSERT_TRUE(y[i] == 0.0f);
    ASSERT_EQ_INT(hh_quantize_row(HH_TYPE_IQ4_XS, x, xsb, 288), HH_EINVAL);
    ASSERT_TRUE(hh_quantize_supported(HH_TYPE_IQ4_NL) && hh_quantize_supported(HH_TYPE_IQ4_XS));
    /* Gaussian rows with a few outliers: relative RMS error of each IQ4
     * type below Q4_0's (same 4 bits per value plus scales) and below 0.12 */
    for (int i = 0; i < 4096; i++) x[i] = rng_gauss(&seed) * (i % 97 == 0 ? 4.0f : 1.0f);
    const uint32_t types[3] = { HH_TYPE_Q4_0, HH_TYPE_IQ4_NL, HH_TYPE_IQ4_XS };
    double rel[3];
    static uint8_t q[4096];
    for (int t = 0; t < 3; t++) {
        ASSERT_OK(hh_quantize_row(types[t], x, q, 4096));
        ref->dequant[types[t]](q, y, 4096);
        double e2 = 0, s2 = 0;
        for (int i = 0; i < 4096; i++) { e2 += (double)(y[i] - x[i]) * (y[i] - x[i]); s2 += (double)x[i] * x[i]; }
        rel[t] = sqrt(e2 / s2);
    }
    printf("    relative RMS error: q4_0 %.4f, iq4_nl %.4f, iq4_xs %.4f\n", rel[0], rel[1], rel[2]);
    ASSERT_LE(rel[1], rel[0]);
    ASSERT_LE(rel[2], rel[0]);
    ASSERT_LE(rel[1], 0.12);
    ASSERT_LE(rel[2], 0.12);
    /* the mixtures: names, fallback of a 32-wide row from IQ4_XS to IQ4_NL */
    const hh_quant_mix_t *mx = hh_quant_mix_find("IQ4_XS");
    ASSERT_TRUE(mx != NULL && mx->base_type == HH_TYPE_IQ4_XS && mx->ftype == 30);
    ASSERT_TRUE(hh_quant_mix_find("iq4_nl") != NULL && hh_quant_mix_find("iq4_nl")->ftype == 25);
    const int64_t ne[2] = { 32, 8 };
    ASSERT_EQ_INT(hh_quant_tensor_type(mx, true, "blk.0.attn_q.weight", 2, ne, HH_TYPE_F32, 0, 2, true, 4),
                  HH_TYPE_IQ4_NL);
}

/* ---- hostile files ----------------------------------------------------------- */

/* Writes a GGUF with one IQ4_NL tensor "w" of ne0 x rows to path. */
static int write_one(const char *path, uint32_t type, int64_t ne0, int64_t rows, const void *data)
{
    hh_gguf_writer_t *w;
    hh_err_t e;
    int rc = hh_gguf_writer_create(&w, 3, 0);
    if (rc) return rc;
    const int64_t ne[2] = { ne0, rows };
    rc = hh_gguf_writer_add_tensor(w, "w", type, 2, ne, data, NULL, NULL);
    if (rc == HH_OK) rc = hh_gguf_writer_write(w, path, &e);
    hh_gguf_writer_free(w);
    return rc;
}

static int open_err(const char *path, hh_err_t *e)
{
    hh_gguf_t *g = NULL;
    hh_gguf_params_t p = hh_gguf_default_params();
    int rc = hh_gguf_open(&g, path, &p, e);
    hh_gguf_close(g);
    return rc;
}

TEST(iq4_hostile_files_refused_with_clear_errors)
{
    static uint8_t data[4 * 136];
    memset(data, 0x11, sizeof data);
    char path[1024];
    hh_err_t e;
    /* a sound file opens */
    snprintf(path, sizeof path, "%s/iq4-ok.gguf", hh_test_tmpdir());
    ASSERT_OK(write_one(path, HH_TYPE_IQ4_XS, 512, 2, data));
    ASSERT_OK(open_err(path, &e));
    /* truncated: the last 100 bytes of the IQ4_XS tensor cut off */
    size_t size;
    uint8_t *img = hh_test_read_file(path, &size);
    ASSERT_TRUE(img != NULL && size > 100);
    snprintf(path, sizeof path, "%s/iq4-trunc.gguf", hh_test_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(img, 1, size - 100, f), size - 100);
    fclose(f);
    ASSERT_EQ_INT(open_err(path, &e), HH_ETRUNC);
    printf("    truncated: %s\n", e.msg);
    ASSERT_TRUE(strstr(e.msg, "tensor 0 'w'") != NULL && strstr(e.msg, "past end of file") != NULL);
    free(img);
    /* a row of 32 values typed IQ4_XS (block 256): the writer refuses it, and
     * a file that says so (an IQ4_NL file with its type id patched to 23) is
     * refused by the reader before any byte count is trusted */
    ASSERT_EQ_INT(write_one(path, HH_TYPE_IQ4_XS, 32, 4, data), HH_EINVAL);
    snprintf(path, sizeof path, "%s/iq4-row.gguf", hh_test_tmpdir());
    ASSERT_OK(write_one(path, HH_TYPE_IQ4_NL, 32, 4, data));
    img = hh_test_read_file(path, &size);
    ASSERT_TRUE(img != NULL);
    /* tensor info: name "w" (u64 length 1, 'w'), n_dims 2, ne 32 and 4, then the type */
    size_t at = 0;
    for (size_t i = 0; i + 33 <= size; i++) {
        uint64_t len, ne0;
        uint32_t nd, ty;
        memcpy(&len, img + i, 8);
        memcpy(&nd, img + i + 9, 4);
        memcpy(&ne0, img + i + 13, 8);
        memcpy(&ty, img + i + 29, 4);
        if (len == 1 && img[i + 8] == 'w' && nd == 2 && ne0 == 32 && ty == HH_TYPE_IQ4_NL) { at = i + 29; break; }
    }
    ASSERT_TRUE(at > 0);
    const uint32_t t23 = HH_TYPE_IQ4_XS;
    memcpy(img + at, &t23, 4);
    f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(img, 1, size, f), size);
    fclose(f);
    free(img);
    ASSERT_EQ_INT(open_err(path, &e), HH_EFORMAT);
    printf("    row: %s\n", e.msg);
    ASSERT_TRUE(strstr(e.msg, "row length 32 is not a multiple of the iq4_xs block size 256") != NULL);
}

/* ---- models ------------------------------------------------------------------ */

/* Mapped (stored rows) or read into memory (then matrices whose type has
 * an x4 kernel on this CPU, IQ4_NL on AVX2, are repacked at load). */
static hh_model_t *load_mode(const char *path, hh_gguf_load_t mode)
{
    hh_model_t *m = NULL;
    hh_err_t e;
    hh_model_params_t p = hh_model_default_params();
    p.load = mode;
    if (hh_model_load(&m, path, &p, &e) != HH_OK) {
        printf("    load %s: %s\n", path, e.msg);
        return NULL;
    }
    return m;
}

static hh_model_t *load(const char *path) { return load_mode(path, HH_GGUF_LOAD_MMAP); }

static const char *const k_mode_name[2] = { "mapped", "read+repacked" };

typedef struct diff { double max_abs, rel_l2; } diff_t;

static diff_t compare(const float *a, const float *b, size_t n)
{
    double mx = 0, num2 = 0, den2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        if (!(fabs(d) <= mx)) mx = fabs(d);   /* NaN fails */
        num2 += d * d;
        den2 += (double)b[i] * b[i];
    }
    return (diff_t){ mx, den2 > 0 ? sqrt(num2 / den2) : sqrt(num2) };
}

/* Logits of every input position (one batch), then GREEDY_STEPS - 1 more
 * rows teacher-forced along feed[] (row 0 = the batch's last row), into
 * out (n_in rows) and out_g (GREEDY_STEPS rows); feed NULL: batch only. */
static int run_model(const hh_model_t *m, bool exact, const int32_t *ids, int n_in, const int32_t *feed, int V,
                     float *out, float *out_g)
{
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.exact = exact;
    cp.n_ctx = 256;
    cp.n_batch = 64;
    cp.n_threads = 1;
    cp.kv_type = HH_KV_F32;
    hh_ctx_t *c = NULL;
    hh_err_t e;
    int rc = hh_ctx_create(&c, m, &cp, &e);
    if (rc != HH_OK) { printf("    ctx: %s\n", e.msg); return rc; }
    bool want[256];
    for (int i = 0; i < n_in; i++) want[i] = true;
    hh_batch_t b = { .n_tokens = n_in, .tokens = ids, .logits = want };
    if ((rc = hh_ctx_decode(c, &b, &e)) != HH_OK) { printf("    decode: %s\n", e.msg); goto done; }
    for (int i = 0; i < n_in; i++) memcpy(out + (size_t)i * V, hh_ctx_logits(c, i), sizeof(float) * (size_t)V);
    if (feed != NULL) {
        memcpy(out_g, out + (size_t)(n_in - 1) * V, sizeof(float) * (size_t)V);
        for (int k = 0; k + 1 < GREEDY_STEPS; k++) {
            hh_batch_t one = { .n_tokens = 1, .tokens = &feed[k] };
            if ((rc = hh_ctx_decode(c, &one, &e)) != HH_OK) { printf("    decode: %s\n", e.msg); goto done; }
            memcpy(out_g + (size_t)(k + 1) * V, hh_ctx_logits(c, 0), sizeof(float) * (size_t)V);
        }
    }
done:
    hh_ctx_free(c);
    return rc;
}

/* hh_gguf_fill_fn: a tensor of the source file dequantized to F32 (scalar reference). */
static int fill_deq(void *ctx, const char *name, void *dst, size_t nbytes, hh_err_t *err)
{
    const hh_gguf_tensor_t *t = ctx;
    int64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d];
    if (nbytes != (size_t)n * sizeof(float))
        return hh_err_set(err, HH_ESTATE, -1, "tensor %s: %zu bytes asked", name, nbytes);
    hh_kernels_for(HH_ISA_SCALAR)->dequant[t->type](t->data, dst, n);
    return HH_OK;
}

/* Writes an F32 copy of the GGUF at in (every kv, every tensor dequantized). */
static int write_deq_copy(const char *in, const char *out)
{
    hh_gguf_t *g = NULL;
    hh_gguf_writer_t *w = NULL;
    hh_err_t e;
    hh_gguf_params_t p = hh_gguf_default_params();
    int rc = hh_gguf_open(&g, in, &p, &e);
    if (rc == HH_OK) rc = hh_gguf_writer_create(&w, 3, 0);
    for (int64_t i = 0; rc == HH_OK && i < hh_gguf_n_kv(g); i++)
        rc = hh_gguf_writer_set_value(w, hh_gguf_kv_key(g, i), hh_gguf_kv_value(g, i));
    if (rc == HH_OK) rc = hh_gguf_writer_set_u32(w, "general.file_type", 0);
    for (int64_t i = 0; rc == HH_OK && i < hh_gguf_n_tensors(g); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        rc = hh_gguf_writer_add_tensor(w, t->name, HH_TYPE_F32, t->n_dims, t->ne, NULL, fill_deq, (void *)t);
    }
    if (rc == HH_OK) rc = hh_gguf_writer_write(w, out, &e);
    if (rc != HH_OK) printf("    deq copy of %s: rc %d\n", in, rc);
    hh_gguf_writer_free(w);
    hh_gguf_close(g);
    return rc;
}

/* The reference set's 24 input ids (reference/README.md). */
static const int32_t k_ids[24] = { 1, 501, 500, 505, 196, 90, 472, 56, 136, 73, 165, 275,
                                   63, 408, 126, 403, 165, 406, 493, 490, 137, 285, 227, 132 };

TEST(iq4_tier_a_own_quantizer_matches_f32_on_dequantized_weights)
{
    const char *src = hh_test_data_path("reference/llama-f32.gguf");
    const char *types[2] = { "iq4_nl", "iq4_xs" };
    const int V = 512, N = 24;
    float *a = malloc(sizeof(float) * N * V), *b = malloc(sizeof(float) * N * V), *f = malloc(sizeof(float) * N * V);
    ASSERT_TRUE(a && b && f);
    hh_model_t *mf = load(src);
    ASSERT_TRUE(mf != NULL);
    ASSERT_OK(run_model(mf, true, k_ids, N, NULL, V, f, NULL));
    hh_model_free(mf);
    for (int ti = 0; ti < 2; ti++) {
        char q[1024], dq[1024];
        snprintf(q, sizeof q, "%s/own-%s.gguf", hh_test_tmpdir(), types[ti]);
        snprintf(dq, sizeof dq, "%s/own-%s-deq.gguf", hh_test_tmpdir(), types[ti]);
        hh_quantize_params_t qp = hh_quantize_default_params();
        qp.pure = true;
        hh_err_t e;
        ASSERT_OK(hh_quantize_file(src, q, types[ti], &qp, &e));
        ASSERT_OK(write_deq_copy(q, dq));
        hh_model_t *mq = load(q), *md = load(dq);
        ASSERT_TRUE(mq != NULL && md != NULL);
        /* every 2-D weight is of the type */
        const hh_gguf_t *g = hh_model_gguf(mq);
        int n_type = 0;
        for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++)
            n_type += hh_gguf_tensor(g, i)->type == (uint32_t)hh_type_from_name(types[ti]);
        ASSERT_EQ_INT(n_type, 16);
        int rc = run_model(mq, true, k_ids, N, NULL, V, a, NULL);
        if (rc == HH_OK) rc = run_model(md, true, k_ids, N, NULL, V, b, NULL);
        hh_model_free(mq);
        hh_model_free(md);
        ASSERT_OK(rc);
        diff_t d = compare(a, b, (size_t)N * V), vs_f32 = compare(a, f, (size_t)N * V);
        printf("    %s (hoheit quantize --pure): exact path vs F32 on its dequantized weights max %.3g rel %.3g; "
               "vs the F32 model max %.3g rel %.3g\n", types[ti], d.max_abs, d.rel_l2, vs_f32.max_abs, vs_f32.rel_l2);
        ASSERT_LE(d.max_abs, TIER_A_ABS);
        ASSERT_LE(d.rel_l2, TIER_A_L2);
        /* and the quantization is a sane one: within a quarter of the logit scale */
        ASSERT_LE(vs_f32.rel_l2, 0.25);
    }
    free(a); free(b); free(f);
}

/* ---- llama.cpp fixtures ------------------------------------------------------ */

typedef struct fixture {
    cJSON  *json;
    int     n_in, V;
    int32_t ids[256], greedy[GREEDY_STEPS], greedy_deq[GREEDY_STEPS];
    float  *logits, *greedy_logits, *logits_deq, *greedy_logits_deq;
    double  tol_b_abs, tol_b_l2;
    char    gguf[1024];
} fixture_t;

static void fixture_free(fixture_t *fx)
{
    cJSON_Delete(fx->json);
    free(fx->logits); free(fx->greedy_logits); free(fx->logits_deq); free(fx->greedy_logits_deq);
    memset(fx, 0, sizeof *fx);
}

static float *read_f32(const char *file, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, FIXTURES "/%s", file ? file : "(none)");
    size_t size = 0;
    float *d = hh_test_read_file(path, &size);
    if (d == NULL || size != n * sizeof(float)) {
        printf("    %s: %zu bytes, expected %zu\n", path, size, n * sizeof(float));
        free(d);
        return NULL;
    }
    return d;
}

static int read_ids(const cJSON *arr, int32_t *out, int max)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (n >= max || !cJSON_IsNumber(it)) return -1;
        out[n++] = (int32_t)it->valuedouble;
    }
    return n;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static bool fixture_load(const char *name, fixture_t *fx)
{
    memset(fx, 0, sizeof *fx);
    char path[1024];
    snprintf(path, sizeof path, FIXTURES "/%s.tokens.json", name);
    char *text = hh_test_read_file(path, NULL);
    fx->json = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (fx->json == NULL) { printf("    cannot read %s\n", path); return false; }
    fx->V = (int)jnum(fx->json, "n_vocab", 0);
    fx->n_in = read_ids(cJSON_GetObjectItemCaseSensitive(fx->json, "input_ids"), fx->ids, 256);
    snprintf(fx->gguf, sizeof fx->gguf, FIXTURES "/%s", jstr(fx->json, "model") ? jstr(fx->json, "model") : "");
    if (fx->V <= 0 || fx->n_in <= 0) return false;
    const size_t nl = (size_t)fx->n_in * fx->V, ng = (size_t)GREEDY_STEPS * fx->V;
    fx->logits = read_f32(jstr(fx->json, "logits_file"), nl);
    fx->greedy_logits = read_f32(jstr(fx->json, "greedy_logits_file"), ng);
    fx->logits_deq = read_f32(jstr(fx->json, "logits_deq_file"), nl);
    fx->greedy_logits_deq = read_f32(jstr(fx->json, "greedy_logits_deq_file"), ng);
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(fx->json, "tolerance");
    fx->tol_b_abs = jnum(tol, "max_abs", 1.5);
    fx->tol_b_l2 = jnum(tol, "rel_l2", 0.07);
    return fx->logits && fx->greedy_logits && fx->logits_deq && fx->greedy_logits_deq &&
           read_ids(cJSON_GetObjectItemCaseSensitive(fx->json, "greedy_ids"), fx->greedy, GREEDY_STEPS) == GREEDY_STEPS &&
           read_ids(cJSON_GetObjectItemCaseSensitive(fx->json, "greedy_ids_deq"), fx->greedy_deq, GREEDY_STEPS) ==
               GREEDY_STEPS;
}

static const char *const k_fixtures[2] = { "llama-iq4_nl", "llama-iq4_xs" };

TEST(iq4_tier_a_matches_llama_cpp_deq)
{
    for (int run = 0; run < 4; run++) {
        const int fi = run / 2, mode = run % 2;
        fixture_t fx;
        if (!fixture_load(k_fixtures[fi], &fx)) { fixture_free(&fx); ASSERT_TRUE(!"fixture incomplete"); }
        hh_model_t *m = load_mode(fx.gguf, mode ? HH_GGUF_LOAD_READ : HH_GGUF_LOAD_MMAP);
        float *got = malloc(sizeof(float) * (size_t)fx.n_in * fx.V), *got_g = malloc(sizeof(float) * GREEDY_STEPS * fx.V);
        int rc = m && got && got_g ? run_model(m, true, fx.ids, fx.n_in, fx.greedy_deq, fx.V, got, got_g) : HH_ENOMEM;
        diff_t d = compare(got, fx.logits_deq, (size_t)fx.n_in * fx.V);
        diff_t dg = compare(got_g, fx.greedy_logits_deq, (size_t)GREEDY_STEPS * fx.V);
        printf("    %s %s tier A (exact path vs llama.cpp on the dequantized weights): batch max %.3g rel %.3g, "
               "teacher-forced greedy max %.3g rel %.3g\n", k_fixtures[fi], k_mode_name[mode], d.max_abs, d.rel_l2,
               dg.max_abs, dg.rel_l2);
        hh_model_free(m);
        free(got); free(got_g);
        fixture_free(&fx);
        ASSERT_OK(rc);
        ASSERT_LE(d.max_abs, TIER_A_ABS);
        ASSERT_LE(d.rel_l2, TIER_A_L2);
        ASSERT_LE(dg.max_abs, TIER_A_ABS);
        ASSERT_LE(dg.rel_l2, TIER_A_L2);
    }
}

TEST(iq4_tier_b_matches_llama_cpp)
{
    for (int run = 0; run < 4; run++) {
        const int fi = run / 2, mode = run % 2;
        fixture_t fx;
        if (!fixture_load(k_fixtures[fi], &fx)) { fixture_free(&fx); ASSERT_TRUE(!"fixture incomplete"); }
        hh_model_t *m = load_mode(fx.gguf, mode ? HH_GGUF_LOAD_READ : HH_GGUF_LOAD_MMAP);
        float *got = malloc(sizeof(float) * (size_t)fx.n_in * fx.V), *got_g = malloc(sizeof(float) * GREEDY_STEPS * fx.V);
        int rc = m && got && got_g ? run_model(m, false, fx.ids, fx.n_in, fx.greedy, fx.V, got, got_g) : HH_ENOMEM;
        diff_t d = compare(got, fx.logits, (size_t)fx.n_in * fx.V);
        diff_t dg = compare(got_g, fx.greedy_logits, (size_t)GREEDY_STEPS * fx.V);
        printf("    %s %s tier B (fast path vs llama.cpp): batch max %.3g rel %.3g, teacher-forced greedy max %.3g "
               "rel %.3g (limit %.3g / %.3g)\n", k_fixtures[fi], k_mode_name[mode], d.max_abs, d.rel_l2, dg.max_abs,
               dg.rel_l2, fx.tol_b_abs, fx.tol_b_l2);
        const double ta = fx.tol_b_abs, tl = fx.tol_b_l2;
        hh_model_free(m);
        free(got); free(got_g);
        fixture_free(&fx);
        ASSERT_OK(rc);
        ASSERT_LE(d.max_abs, ta);
        ASSERT_LE(d.rel_l2, tl);
        ASSERT_LE(dg.max_abs, ta);
        ASSERT_LE(dg.rel_l2, tl);
    }
}

/* Fast path, weights read and repacked: one batch of the 24 inputs equals
 * decoding them one at a time (<= 1e-4, as test_model.c holds the other
 * types) and 1 thread equals 2 threads (<= 1e-5). */
static int logits_run(const hh_model_t *m, int threads, int n_batch, const int32_t *ids, int n, int V, float *out)
{
    hh_ctx_params_t cp = hh_ctx_default_params();
    cp.n_ctx = 64;
    cp.n_batch = n_batch;
    cp.n_threads = threads;
    cp.kv_type = HH_KV_F32;
    hh_ctx_t *c = NULL;
    hh_err_t e;
    int rc = hh_ctx_create(&c, m, &cp, &e);
    bool want[64];
    for (int i = 0; i < 64; i++) want[i] = true;
    for (int t = 0; rc == HH_OK && t < n; t += n_batch) {
        const int k = n - t < n_batch ? n - t : n_batch;
        hh_batch_t b = { .n_tokens = k, .tokens = ids + t, .logits = want };
        rc = hh_ctx_decode(c, &b, &e);
        for (int i = 0; rc == HH_OK && i < k; i++)
            memcpy(out + (size_t)(t + i) * V, hh_ctx_logits(c, i), sizeof(float) * (size_t)V);
    }
    hh_ctx_free(c);
    return rc;
}

TEST(iq4_batch_sequential_threads_agree)
{
    const int V = 512, N = 24;
    float *b1 = malloc(sizeof(float) * N * V), *b2 = malloc(sizeof(float) * N * V), *sq = malloc(sizeof(float) * N * V);
    ASSERT_TRUE(b1 && b2 && sq);
    for (int fi = 0; fi < 2; fi++) {
        char path[1024];
        snprintf(path, sizeof path, FIXTURES "/%s.gguf", k_fixtures[fi]);
        hh_model_t *m = load_mode(path, HH_GGUF_LOAD_READ);
        ASSERT_TRUE(m != NULL);
        int rc = logits_run(m, 1, 64, k_ids, N, V, b1);
        if (rc == HH_OK) rc = logits_run(m, 2, 64, k_ids, N, V, b2);
        if (rc == HH_OK) rc = logits_run(m, 1, 1, k_ids, N, V, sq);
        hh_model_free(m);
        ASSERT_OK(rc);
        diff_t ds = compare(sq, b1, (size_t)N * V), dt = compare(b2, b1, (size_t)N * V);
        printf("    %s: batched vs sequential %.3g, 1 vs 2 threads %.3g\n", k_fixtures[fi], ds.max_abs, dt.max_abs);
        ASSERT_LE(ds.max_abs, 1e-4);
        ASSERT_LE(dt.max_abs, 1e-5);
    }
    free(b1); free(b2); free(sq);
}

/* The IQ4_XS fixture cut in the middle of its last matrix (blk.1.ffn_up in
 * llama.cpp's tensor order): the model load
 * fails with the tensor named, nothing is read past the end. */
TEST(iq4_truncated_model_refused)
{
    size_t size = 0;
    uint8_t *img = hh_test_read_file(FIXTURES "/llama-iq4_xs.gguf", &size);
    ASSERT_TRUE(img != NULL && size > 60000);
    char path[1024];
    snprintf(path, sizeof path, "%s/iq4-model-trunc.gguf", hh_test_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(img, 1, size - 50000, f), size - 50000);
    fclose(f);
    free(img);
    hh_model_t *m = NULL;
    hh_err_t e;
    hh_model_params_t p = hh_model_default_params();
    ASSERT_EQ_INT(hh_model_load(&m, path, &p, &e), HH_ETRUNC);
    ASSERT_TRUE(m == NULL);
    printf("    %s\n", e.msg);
    ASSERT_TRUE(strstr(e.msg, "blk.1.ffn_up.weight") != NULL && strstr(e.msg, "past end of file") != NULL);
}

TEST(iq4_inspect_names_the_types)
{
    const char *bin = getenv("HOHEIT_BIN");
    ASSERT_TRUE(bin != NULL);
    for (int fi = 0; fi < 2; fi++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s' inspect '" FIXTURES "/%s.gguf' 2>&1", bin, k_fixtures[fi]);
        FILE *p = popen(cmd, "r");
        ASSERT_TRUE(p != NULL);
        static char text[65536];
        size_t n = fread(text, 1, sizeof text - 1, p);
        text[n] = '\0';
        ASSERT_EQ_INT(pclose(p), 0);
        char want[64];
        snprintf(want, sizeof want, "%s x16", fi == 0 ? "iq4_nl" : "iq4_xs");
        if (strstr(text, want) == NULL) printf("%s\n", text);
        ASSERT_TRUE(strstr(text, want) != NULL);
        ASSERT_TRUE(strstr(text, "not computable") == NULL);
    }
}
