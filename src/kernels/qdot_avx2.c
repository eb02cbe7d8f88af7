/* qdot_avx2.c - quantized-activation kernels for AVX2 (maddubs/madd);
 * the code is in qdot_x86.h. */
#define HH_QDOT_VNNI 0
#include "kernels/qdot_x86.h"

void hh_qdot_fill_avx2(hh_kernels_t *k)
{
    qx_fill(k);
    hh_qdot_x4_fill_avx2(k);
}
