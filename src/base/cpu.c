/* cpu.c - CPU feature detection (cpuid + xgetbv on x86-64). */
#include "base/cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static hh_cpu_t g_cpu;
static hh_isa_t g_isa;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static unsigned long long xgetbv0(void)
{
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static bool supports(const hh_cpu_t *c, hh_isa_t isa);

static void detect(void)
{
    memset(&g_cpu, 0, sizeof g_cpu);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    g_cpu.n_cores = n > 0 ? (int)n : 1;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        bool osxsave = c & (1u << 27);
        g_cpu.fma  = c & (1u << 12);
        g_cpu.f16c = c & (1u << 29);
        unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
        bool ymm_ok = (xcr0 & 0x6) == 0x6;      /* SSE + AVX state saved by the OS */
        bool zmm_ok = (xcr0 & 0xe6) == 0xe6;    /* + opmask, ZMM hi256, hi16 ZMM */
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
            g_cpu.avx2       = ymm_ok && (b & (1u << 5));
            g_cpu.bmi2       = b & (1u << 8);
            g_cpu.avx512f    = zmm_ok && (b & (1u << 16));
            g_cpu.avx512dq   = zmm_ok && (b & (1u << 17));
            g_cpu.avx512bw   = zmm_ok && (b & (1u << 30));
            g_cpu.avx512vl   = zmm_ok && (b & (1u << 31));
            g_cpu.avx512vnni = zmm_ok && (c & (1u << 11));
        }
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
            g_cpu.avxvnni    = ymm_ok && (a & (1u << 4));
            g_cpu.avx512bf16 = zmm_ok && (a & (1u << 5));
        }
        g_cpu.fma  = g_cpu.fma && ymm_ok;
        g_cpu.f16c = g_cpu.f16c && ymm_ok;
    }
#elif defined(__aarch64__)
    g_cpu.neon = true;
#endif
    g_isa = HH_ISA_SCALAR;
    for (int i = HH_ISA_COUNT - 1; i > 0; i--) {
        if (supports(&g_cpu, (hh_isa_t)i)) { g_isa = (hh_isa_t)i; break; }
    }
    const char *cap = getenv("HOHEIT_ISA");
    if (cap != NULL) {
        for (int i = 0; i < HH_ISA_COUNT; i++) {
            if (strcmp(cap, hh_isa_name((hh_isa_t)i)) == 0 && supports(&g_cpu, (hh_isa_t)i)) {
                g_isa = (hh_isa_t)i;
                break;
            }
        }
    }
}

const hh_cpu_t *hh_cpu(void)
{
    pthread_once(&g_once, detect);
    return &g_cpu;
}

/* Called from detect() too, so it must not go through pthread_once. */
static bool supports(const hh_cpu_t *c, hh_isa_t isa)
{
    switch (isa) {
    case HH_ISA_SCALAR: return true;
#if defined(__x86_64__)
    case HH_ISA_AVX2:   return c->avx2 && c->fma && c->f16c;
    case HH_ISA_AVX512: return c->avx2 && c->fma && c->f16c && c->avx512f && c->avx512bw &&
                               c->avx512vl && c->avx512dq && c->avx512vnni;
#endif
#if defined(__aarch64__)
    case HH_ISA_NEON:   return c->neon;
#endif
    default:            return false;
    }
}

bool hh_cpu_supports(hh_isa_t isa)
{
    return supports(hh_cpu(), isa);
}

hh_isa_t hh_cpu_isa(void)
{
    pthread_once(&g_once, detect);
    return g_isa;
}

const char *hh_isa_name(hh_isa_t isa)
{
    switch (isa) {
    case HH_ISA_SCALAR: return "scalar";
    case HH_ISA_AVX2:   return "avx2";
    case HH_ISA_AVX512: return "avx512";
    case HH_ISA_NEON:   return "neon";
    default:            return "?";
    }
}
