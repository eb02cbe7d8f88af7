/* fuzz_gguf.c - libFuzzer target for the GGUF reader: parses the input with
 * hh_gguf_open_memory and, when it is accepted, touches every key, value
 * (recursively), and every byte of every tensor, so any bounds or lifetime
 * error in the parser shows up under ASan/UBSan. */
#include "gguf/gguf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t walk(const hh_gguf_value_t *v, int depth)
{
    uint64_t h = (uint64_t)v->type;
    switch (v->type) {
    case HH_GGUF_STR:
        h += v->v.str.len + (unsigned char)v->v.str.s[v->v.str.len];
        for (uint64_t i = 0; i < v->v.str.len; i++)
            h += (unsigned char)v->v.str.s[i];
        break;
    case HH_GGUF_ARR: {
        uint64_t n = v->v.arr.n;
        if (v->v.arr.elem == HH_GGUF_STR) {
            for (uint64_t i = 0; i < n; i++)
                h += v->v.arr.str_lens[i] + strlen(v->v.arr.strs[i]);
        } else if (v->v.arr.elem == HH_GGUF_ARR) {
            for (uint64_t i = 0; i < n; i++)
                h += walk(&v->v.arr.items[i], depth + 1);
        } else {
            /* element sizes: u8 i8 u16 i16 u32 i32 f32 bool - - u64 i64 f64 */
            static const size_t es[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
            const uint8_t *d = v->v.arr.data;
            for (uint64_t i = 0; i < n * es[v->v.arr.elem]; i++)
                h += d[i];
        }
        break;
    }
    default:
        h += v->v.u;
        break;
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hh_gguf_t *g = NULL;
    hh_err_t err;
    if (hh_gguf_open_memory(&g, data, size, &err) != 0)
        return 0;
    volatile uint64_t sink = 0;
    for (int64_t i = 0; i < hh_gguf_n_kv(g); i++) {
        const char *k = hh_gguf_kv_key(g, i);
        sink += strlen(k) + walk(hh_gguf_kv_value(g, i), 0);
        if (hh_gguf_get(g, k) != hh_gguf_kv_value(g, i))
            __builtin_trap();   /* lookup must find the entry itself (keys are unique) */
    }
    for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        if (hh_gguf_find_tensor(g, t->name) != t)
            __builtin_trap();
        const uint8_t *p = t->data;
        for (size_t b = 0; b < t->nbytes; b++)
            sink += p[b];
    }
    (void)sink;
    hh_gguf_close(g);
    return 0;
}
