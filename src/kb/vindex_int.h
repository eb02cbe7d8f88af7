/* vindex_int.h - private to the vector index (vindex.c and its per-ISA dot
 * kernels vindex_avx2.c / vindex_avx512.c). */
#ifndef HH_KB_VINDEX_INT_H
#define HH_KB_VINDEX_INT_H

#include <stddef.h>

#include "base/cpu.h"

/* Dot product of a[0..n) and b[0..n). No alignment required. */
typedef float (*hh_vindex_dot_fn)(const float *a, const float *b, size_t n);

/* Plain scalar reference: one float accumulator, in index order. */
float hh_vindex_dot_ref(const float *a, const float *b, size_t n);
#if defined(__x86_64__)
float hh_vindex_dot_avx2(const float *a, const float *b, size_t n);
float hh_vindex_dot_avx512(const float *a, const float *b, size_t n);
#endif

/* The kernel for isa, or NULL when it is not compiled in or the CPU lacks
 * it (tests compare every available one with the reference). */
hh_vindex_dot_fn hh_vindex_dot_for(hh_isa_t isa);

/* The kernel for this CPU (hh_cpu_isa()), chosen once. Never NULL. */
hh_vindex_dot_fn hh_vindex_dot_best(void);

#endif
