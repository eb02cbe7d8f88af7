/* bench_matmul.c - one weight matrix times activations, per weight type, on
 * the engine's own matmul (src/model/matmul.c, fast path: activations
 * rounded to Q8_0 / Q8_K as the type asks, integer dots), one thread.
 *
 *   bench_matmul [-r REPS] [-k N_IN] [-m N_OUT] [-p PREFILL] [-x 0|1] TYPE [TYPE ...]
 *
 * The matrix (default 2048 x 5632, a TinyLlama FFN projection) is filled
 * with N(0, 1/n_in) values and quantized with hoheit's quantizer; matrices
 * of types with an x4 kernel on this CPU are repacked as the model loader
 * does (hh_repack_x4) unless -x 0 (then every type runs on its stored rows). Decode: one token, the weights streamed once per
 * call: ms per product and weight GB/s. Prefill: PREFILL tokens (default
 * 64) in one call: tokens/s. Best of REPS (default 5) timed runs of at
 * least 0.2 s each. The ISA is the one hoheit picks (cap it with
 * HOHEIT_ISA=scalar|avx2|avx512). Prints a markdown table. */
#include "base/threadpool.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quantize.h"
#include "model/model_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Standard normal from a splitmix64 state. */
static float gauss(uint64_t *seed)
{
    uint64_t z = (*seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = ((double)(z >> 11) + 1.0) * 0x1p-53, v = (double)(z & 0x7ff) / 2048.0;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Best seconds per call of hh_matmul over reps timed runs. */
static double time_calls(hh_pool_t *pool, const hh_kernels_t *k, const hh_mat_t *w, const float *x, float *y,
                         int32_t n_tok, const hh_mm_ws_t *ws, int reps)
{
    double best = 1e30;
    hh_matmul(pool, k, w, x, y, n_tok, ws);   /* warm-up */
    for (int r = 0; r < reps; r++) {
        int calls = 0;
        const double t0 = now_s();
        double t;
        do {
            hh_matmul(pool, k, w, x, y, n_tok, ws);
            calls++;
            t = now_s() - t0;
        } while (t < 0.2);
        if (t / calls < best) best = t / calls;
    }
    return best;
}

int main(int argc, char **argv)
{
    int reps = 5, prefill = 64, x4 = 1;
    int64_t n_in = 2048, n_out = 5632;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first += 2) {
        if (first + 1 >= argc) { fprintf(stderr, "bench_matmul: %s needs a value\n", argv[first]); return 2; }
        long v = strtol(argv[first + 1], NULL, 10);
        if (!strcmp(argv[first], "-r")) reps = (int)v;
        else if (!strcmp(argv[first], "-k")) n_in = v;
        else if (!strcmp(argv[first], "-m")) n_out = v;
        else if (!strcmp(argv[first], "-p")) prefill = (int)v;
        else if (!strcmp(argv[first], "-x")) x4 = v != 0;
        else { fprintf(stderr, "bench_matmul: unknown option %s\n", argv[first]); return 2; }
    }
    if (first >= argc || reps < 1 || prefill < 1 || prefill > 512 || n_in < 256 || n_in % 256 || n_out < 4 || n_out % 4) {
        fprintf(stderr, "usage: bench_matmul [-r REPS] [-k N_IN (multiple of 256)] [-m N_OUT (multiple of 4)] "
                        "[-p PREFILL (1..512)] [-x 0|1] TYPE [TYPE ...]\n");
        return 2;
    }
    const hh_kernels_t *k = hh_kernels();
    hh_pool_t *pool = NULL;
    hh_mm_ws_t ws;
    hh_err_t err;
    float *wf = malloc(sizeof(float) * (size_t)(n_in * n_out));
    float *x = malloc(sizeof(float) * (size_t)(n_in * prefill)), *y = malloc(sizeof(float) * (size_t)(n_out * prefill));
    if (!wf || !x || !y || hh_pool_create(&pool, 1) != HH_OK ||
        hh_mm_ws_init(&ws, 1, prefill, n_in, false, &err) != HH_OK) {
        fprintf(stderr, "bench_matmul: out of memory\n");
        return 1;
    }
    const float sd = 1.0f / sqrtf((float)n_in);
    uint64_t seed = 42;
    for (int64_t i = 0; i < n_in * n_out; i++) wf[i] = gauss(&seed) * sd;
    for (int64_t i = 0; i < n_in * prefill; i++) x[i] = gauss(&seed);

    printf("Matrix %lld x %lld (n_in x n_out), 1 thread, ISA %s, best of %d.\n\n", (long long)n_in,
           (long long)n_out, hh_isa_name(k->isa), reps);
    printf("| type | layout | bits/weight | MiB | decode ms | decode GB/s | prefill %d tok/s |\n", prefill);
    printf("|---|---|---|---|---|---|---|\n");
    for (int a = first; a < argc; a++) {
        const int t = hh_type_from_name(argv[a]);
        size_t rb;
        if (t < 0 || !hh_quantize_supported((uint32_t)t) || hh_type_row_size((uint32_t)t, n_in, &rb) != HH_OK) {
            fprintf(stderr, "bench_matmul: cannot quantize to '%s'\n", argv[a]);
            return 2;
        }
        uint8_t *wq = malloc(rb * (size_t)n_out);
        if (!wq) return 1;
        for (int64_t r = 0; r < n_out; r++)
            hh_quantize_row((uint32_t)t, wf + r * n_in, wq + (size_t)r * rb, n_in);
        hh_mat_t w = { wq, (uint32_t)t, n_in, n_out, rb, rb * (size_t)n_out, false };
        if (x4 && hh_repack_x4_ok(k, &w) && hh_repack_x4(&w) != HH_OK) return 1;
        const double td = time_calls(pool, k, &w, x, y, 1, &ws, reps);
        const double tp = time_calls(pool, k, &w, x, y, prefill, &ws, reps);
        printf("| %s | %s | %.2f | %.1f | %.3f | %.2f | %.1f |\n", hh_type_name((uint32_t)t), w.x4 ? "x4" : "rows",
               8.0 * (double)w.nbytes / (double)(n_in * n_out), (double)w.nbytes / 1048576.0, td * 1e3,
               (double)w.nbytes / td * 1e-9, prefill / tp);
        fflush(stdout);
        free(wq);
    }
    hh_mm_ws_free(&ws);
    hh_pool_free(pool);
    free(wf); free(x); free(y);
    return 0;
}
