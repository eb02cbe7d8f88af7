/* qdot_avx512.c - quantized-activation kernels with AVX-512 VNNI on 256-bit
 * vectors (vpdpbusd / vpdpwssd); the code is in qdot_x86.h. */
#define HH_QDOT_VNNI 1
#include "kernels/qdot_x86.h"

void hh_qdot_fill_avx512(hh_kernels_t *k)
{
    qx_fill(k);
    hh_qdot_x4_fill_avx512(k);
}
