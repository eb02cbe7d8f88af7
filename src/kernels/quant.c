/* quant.c - tensor type traits (names, block sizes, bytes per block) for
 * every ggml type id, and the row-size arithmetic the GGUF reader and the
 * model loader use to size tensors. Block layouts live in quant.h. */
#include "kernels/quant.h"

#include "base/err.h"

#include <stdint.h>
#include <strings.h>

/* Indexed by type id. Ids ggml retired (4, 5: q4_2/q4_3; 36..38: the
 * interleaved iq4_nl variants) have no entry. The compute column is what
 * hoheit's kernels implement; the rest can be parsed and shown only. */
static const hh_type_traits_t g_traits[HH_TYPE_COUNT] = {
    [HH_TYPE_F32]  = { "f32",      1,       4,   true  },
    [HH_TYPE_F16]  = { "f16",      1,       2,   true  },
    [HH_TYPE_Q4_0] = { "q4_0",     HH_QK4_0, sizeof(hh_block_q4_0), true },
    [HH_TYPE_Q4_1] = { "q4_1",     HH_QK4_1, sizeof(hh_block_q4_1), true },
    [HH_TYPE_Q5_0] = { "q5_0",     HH_QK5_0, sizeof(hh_block_q5_0), true },
    [HH_TYPE_Q5_1] = { "q5_1",     HH_QK5_1, sizeof(hh_block_q5_1), true },
    [HH_TYPE_Q8_0] = { "q8_0",     HH_QK8_0, sizeof(hh_block_q8_0), true },
    [HH_TYPE_Q8_1] = { "q8_1",     HH_QK8_1, sizeof(hh_block_q8_1), false },
    [HH_TYPE_Q2_K] = { "q2_K",     HH_QK_K, sizeof(hh_block_q2_K), true },
    [HH_TYPE_Q3_K] = { "q3_K",     HH_QK_K, sizeof(hh_block_q3_K), true },
    [HH_TYPE_Q4_K] = { "q4_K",     HH_QK_K, sizeof(hh_block_q4_K), true },
    [HH_TYPE_Q5_K] = { "q5_K",     HH_QK_K, sizeof(hh_block_q5_K), true },
    [HH_TYPE_Q6_K] = { "q6_K",     HH_QK_K, sizeof(hh_block_q6_K), true },
    [HH_TYPE_Q8_K] = { "q8_K",     HH_QK_K, sizeof(hh_block_q8_K), false },
    [16]           = { "iq2_xxs",  256,     66,  false },
    [17]           = { "iq2_xs",   256,     74,  false },
    [18]           = { "iq3_xxs",  256,     98,  false },
    [19]           = { "iq1_s",    256,     50,  false },
    [HH_TYPE_IQ4_NL] = { "iq4_nl", HH_QK4_NL, sizeof(hh_block_iq4_nl), true },
    [21]           = { "iq3_s",    256,     110, false },
    [22]           = { "iq2_s",    256,     82,  false },
    [HH_TYPE_IQ4_XS] = { "iq4_xs", HH_QK_K, sizeof(hh_block_iq4_xs), true },
    [HH_TYPE_I8]   = { "i8",       1,       1,   false },
    [HH_TYPE_I16]  = { "i16",      1,       2,   false },
    [HH_TYPE_I32]  = { "i32",      1,       4,   false },
    [HH_TYPE_I64]  = { "i64",      1,       8,   false },
    [HH_TYPE_F64]  = { "f64",      1,       8,   false },
    [29]           = { "iq1_m",    256,     56,  false },
    [HH_TYPE_BF16] = { "bf16",     1,       2,   true  },
    [31]           = { "q4_0_4_4", 32,      18,  false },
    [32]           = { "q4_0_4_8", 32,      18,  false },
    [33]           = { "q4_0_8_8", 32,      18,  false },
    [34]           = { "tq1_0",    256,     54,  false },
    [35]           = { "tq2_0",    256,     66,  false },
    [HH_TYPE_MXFP4] = { "mxfp4",  HH_QK_MXFP4, sizeof(hh_block_mxfp4), true },
};

const hh_type_traits_t *hh_type_traits(uint32_t type)
{
    if (type >= HH_TYPE_COUNT || g_traits[type].name == NULL)
        return NULL;
    return &g_traits[type];
}

const char *hh_type_name(uint32_t type)
{
    const hh_type_traits_t *t = hh_type_traits(type);
    return t ? t->name : "unknown";
}

int hh_type_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < HH_TYPE_COUNT; i++) {
        if (g_traits[i].name && strcasecmp(g_traits[i].name, name) == 0)
            return i;
    }
    return -1;
}

int hh_type_row_size(uint32_t type, int64_t n, size_t *out)
{
    const hh_type_traits_t *t = hh_type_traits(type);
    if (t == NULL || n < 0 || n % t->blck != 0)
        return HH_EINVAL;
    uint64_t blocks = (uint64_t)(n / t->blck);
    /* Catch size_t overflow of blocks * type_size. */
    if (t->type_size != 0 && blocks > SIZE_MAX / t->type_size)
        return HH_EOVERFLOW;
    *out = (size_t)blocks * t->type_size;
    return HH_OK;
}

const char *hh_type_supported_list(void)
{
    return "f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs, mxfp4";
}
