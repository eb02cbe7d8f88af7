/* cpu.h - CPU features, detected once at start.
 *
 * The instruction-set level the kernels use is the best one the CPU has,
 * unless HOHEIT_ISA=scalar|avx2|avx512 in the environment asks for a lower
 * one (for tests and benchmarks). */
#ifndef HH_BASE_CPU_H
#define HH_BASE_CPU_H

#include <stdbool.h>

typedef enum hh_isa {
    HH_ISA_SCALAR = 0,
    HH_ISA_AVX2   = 1,   /* AVX2 + FMA + F16C */
    HH_ISA_AVX512 = 2,   /* AVX-512 F/BW/VL/DQ + VNNI (Ice Lake / Zen 4 and later) */
    HH_ISA_NEON   = 3,   /* aarch64 */
    HH_ISA_COUNT
} hh_isa_t;

typedef struct hh_cpu {
    bool avx2, fma, f16c, bmi2;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16;
    bool avxvnni;
    bool neon;
    int  n_cores;        /* online logical CPUs */
} hh_cpu_t;

/* Feature table, filled on first call (thread-safe). Never NULL. */
const hh_cpu_t *hh_cpu(void);

/* True if the CPU can run code built for isa. */
bool hh_cpu_supports(hh_isa_t isa);

/* The ISA level to use: best supported, capped by HOHEIT_ISA if set. */
hh_isa_t hh_cpu_isa(void);

const char *hh_isa_name(hh_isa_t isa);

#endif
