/* kernels.c - builds the per-ISA kernel tables once and hands out the one
 * for this CPU (hh_kernels) or a named one (hh_kernels_for, for tests). */
#include "kernels/kernels_int.h"

#include <pthread.h>
#include <stdatomic.h>

/* Filled once by init(); read-only afterwards. g_have[i] marks the ISAs
 * compiled in and supported by the CPU. */
static hh_kernels_t g_tables[HH_ISA_COUNT];
static bool g_have[HH_ISA_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* The chosen table, published after init so the hot path is one load. */
static _Atomic(const hh_kernels_t *) g_best;

static void init(void)
{
    hh_kernels_fill_ref(&g_tables[HH_ISA_SCALAR]);
    g_have[HH_ISA_SCALAR] = true;
#if defined(__x86_64__)
    if (hh_cpu_supports(HH_ISA_AVX2)) {
        hh_kernels_fill_avx2(&g_tables[HH_ISA_AVX2]);
        g_have[HH_ISA_AVX2] = true;
    }
    if (hh_cpu_supports(HH_ISA_AVX512)) {
        hh_kernels_fill_avx512(&g_tables[HH_ISA_AVX512]);
        g_have[HH_ISA_AVX512] = true;
    }
#endif
#if defined(__aarch64__)
    if (hh_cpu_supports(HH_ISA_NEON)) {
        hh_kernels_fill_neon(&g_tables[HH_ISA_NEON]);
        g_have[HH_ISA_NEON] = true;
    }
#endif
    hh_isa_t isa = hh_cpu_isa();
    const hh_kernels_t *best = &g_tables[HH_ISA_SCALAR];
    if ((int)isa >= 0 && isa < HH_ISA_COUNT && g_have[isa]) best = &g_tables[isa];
    atomic_store_explicit(&g_best, best, memory_order_release);
}

const hh_kernels_t *hh_kernels(void)
{
    const hh_kernels_t *k = atomic_load_explicit(&g_best, memory_order_acquire);
    if (k != NULL) return k;
    pthread_once(&g_once, init);
    return atomic_load_explicit(&g_best, memory_order_acquire);
}

const hh_kernels_t *hh_kernels_for(hh_isa_t isa)
{
    if ((int)isa < 0 || isa >= HH_ISA_COUNT) return NULL;
    pthread_once(&g_once, init);
    return g_have[isa] ? &g_tables[isa] : NULL;
}
