/* gguf.c - GGUF reader: parses and validates the header, metadata and tensor
 * table of a version 2 or 3 file, maps or reads the tensor data, and answers
 * lookups by key and tensor name (hashed).
 *
 * Every count, length, offset and dimension read from the file is checked
 * against the bytes that remain before anything is allocated or indexed, so
 * the memory a file can make us allocate is a small multiple of its size.
 * Policy choices: tensor dimensions must be >= 1 (ggml allows empty tensors,
 * but no model has one and they only add zero-size edge cases); at most 4
 * dims; keys 1..65535 bytes, tensor names 1..255 bytes; arrays nest at most
 * 8 deep; duplicate keys or tensor names, misaligned or overlapping tensors
 * are errors; a tensor type id hoheit does not know is HH_EUNSUPPORTED. */
#include "gguf/gguf.h"
#include "gguf/gguf_int.h"

#include "base/log.h"
#include "kernels/quant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- arena ---------------------------------------------------------- */

struct hh_gguf_arena_chunk {
    hh_gguf_arena_chunk_t *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

#define ARENA_CHUNK (64 * 1024)

void *hh_gguf_arena_alloc(hh_gguf_arena_t *a, size_t size)
{
    /* Round up to 16 (catch size_t overflow first). */
    if (size > SIZE_MAX - 15)
        return NULL;
    size_t need = (size + 15) & ~(size_t)15;
    if (need == 0)
        need = 16;
    hh_gguf_arena_chunk_t *c = a->head;
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK / 2 ? need : ARENA_CHUNK;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        hh_gguf_arena_chunk_t *n = malloc(sizeof *n + cap);
        if (n == NULL)
            return NULL;
        n->used = 0;
        n->cap = cap;
        /* A big one-off block goes behind the current chunk so the current
         * chunk's free space is still used by later small allocations. */
        if (c != NULL && cap != ARENA_CHUNK) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = c->mem + c->used;
    c->used += need;
    memset(p, 0, need);
    return p;
}

char *hh_gguf_arena_strndup(hh_gguf_arena_t *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *d = hh_gguf_arena_alloc(a, len + 1);
    if (d == NULL)
        return NULL;
    if (len)
        memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void hh_gguf_arena_free(hh_gguf_arena_t *a)
{
    hh_gguf_arena_chunk_t *c = a->head;
    while (c) {
        hh_gguf_arena_chunk_t *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

size_t hh_gguf_vtype_size(hh_gguf_vtype_t t)
{
    switch (t) {
    case HH_GGUF_U8: case HH_GGUF_I8: case HH_GGUF_BOOL: return 1;
    case HH_GGUF_U16: case HH_GGUF_I16: return 2;
    case HH_GGUF_U32: case HH_GGUF_I32: case HH_GGUF_F32: return 4;
    case HH_GGUF_U64: case HH_GGUF_I64: case HH_GGUF_F64: return 8;
    default: return 0;
    }
}

const char *hh_gguf_vtype_name(hh_gguf_vtype_t t)
{
    static const char *const names[HH_GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    if ((unsigned)t >= HH_GGUF_VTYPE_COUNT)
        return "unknown";
    return names[t];
}

/* ---- name index (open addressing, FNV-1a) --------------------------- */

typedef struct name_index {
    int64_t *slot;   /* index + 1, 0 = empty */
    size_t   mask;
} name_index_t;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int index_init(name_index_t *ix, hh_gguf_arena_t *a, int64_t n)
{
    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof(int64_t))
        return HH_ENOMEM;
    ix->slot = hh_gguf_arena_alloc(a, cap * sizeof(int64_t));
    if (ix->slot == NULL)
        return HH_ENOMEM;
    ix->mask = cap - 1;
    return HH_OK;
}

/* Finds name; names[i] gives the string of entry i. Returns index or -1. */
static int64_t index_find(const name_index_t *ix, const char *const *names, size_t stride,
                          const char *name)
{
    if (ix->slot == NULL)
        return -1;
    for (size_t h = hash_str(name) & ix->mask;; h = (h + 1) & ix->mask) {
        int64_t v = ix->slot[h];
        if (v == 0)
            return -1;
        const char *s = *(const char *const *)((const char *)names + (size_t)(v - 1) * stride);
        if (strcmp(s, name) == 0)
            return v - 1;
    }
}

/* Inserts entry i under name; returns the existing index if name is taken,
 * else -1. The table is sized for every entry, so it never fills. */
static int64_t index_insert(name_index_t *ix, const char *const *names, size_t stride,
                            const char *name, int64_t i)
{
    for (size_t h = hash_str(name) & ix->mask;; h = (h + 1) & ix->mask) {
        int64_t v = ix->slot[h];
        if (v == 0) {
            ix->slot[h] = i + 1;
            return -1;
        }
        const char *s = *(const char *const *)((const char *)names + (size_t)(v - 1) * stride);
        if (strcmp(s, name) == 0)
            return v - 1;
    }
}

/* ---- handle --------------------------------------------------------- */

struct hh_gguf {
    uint32_t version;
    uint64_t file_size;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t  n_kv;
    int64_t  n_tensors;
    const char     **keys;     /* [n_kv] */
    hh_gguf_value_t *values;   /* [n_kv] */
    hh_gguf_tensor_t *tensors; /* [n_tensors] */
    name_index_t kv_index;
    name_index_t tensor_index;
    hh_gguf_arena_t arena;     /* owns keys, values, tensors, indexes */
    void   *map;               /* the mapped file (MMAP mode), or NULL */
    size_t  map_size;
    void   *buf;               /* tensor data read into anonymous memory (READ mode), or NULL */
    size_t  buf_size;
};

hh_gguf_params_t hh_gguf_default_params(void)
{
    hh_gguf_params_t p = { .load = HH_GGUF_LOAD_MMAP, .mlock = false, .no_data = false };
    return p;
}

/* ---- parser --------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    uint64_t size;
    uint64_t pos;
    hh_err_t *err;
    hh_gguf_arena_t *arena;
    char ctx[384];   /* what is being read, for messages: "kv 3 'general.name'" */
} reader_t;

static uint64_t remain(const reader_t *r)
{
    return r->size - r->pos;
}

/* Fails with HH_ETRUNC unless n bytes remain. */
static int need(reader_t *r, uint64_t n, const char *what)
{
    if (n <= remain(r))
        return HH_OK;
    return hh_err_set(r->err, HH_ETRUNC, (int64_t)r->pos,
                      "%s%s%s: needs %llu bytes at offset %llu, only %llu remain (file size %llu)",
                      r->ctx, r->ctx[0] ? ": " : "", what, (unsigned long long)n,
                      (unsigned long long)r->pos, (unsigned long long)remain(r),
                      (unsigned long long)r->size);
}

static uint64_t le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int rd_u32(reader_t *r, const char *what, uint32_t *out)
{
    int rc = need(r, 4, what);
    if (rc)
        return rc;
    *out = (uint32_t)le(r->p + r->pos, 4);
    r->pos += 4;
    return HH_OK;
}

static int rd_u64(reader_t *r, const char *what, uint64_t *out)
{
    int rc = need(r, 8, what);
    if (rc)
        return rc;
    *out = le(r->p + r->pos, 8);
    r->pos += 8;
    return HH_OK;
}

/* A u64 length + bytes. max_len limits the length (keys, names); the copy is
 * NUL-terminated in the arena. */
static int rd_str(reader_t *r, const char *what, uint64_t max_len, const char **s, uint64_t *len)
{
    uint64_t at = r->pos;
    uint64_t n;
    int rc = rd_u64(r, what, &n);
    if (rc)
        return rc;
    if (n > max_len)
        return hh_err_set(r->err, HH_EFORMAT, (int64_t)at, "%s%s%s: length %llu exceeds the limit %llu",
                          r->ctx, r->ctx[0] ? ": " : "", what, (unsigned long long)n,
                          (unsigned long long)max_len);
    if (n > remain(r))
        return hh_err_set(r->err, HH_ETRUNC, (int64_t)at,
                          "%s%s%s: length %llu past end of file (%llu bytes remain at offset %llu)",
                          r->ctx, r->ctx[0] ? ": " : "", what, (unsigned long long)n,
                          (unsigned long long)remain(r), (unsigned long long)r->pos);
    char *d = hh_gguf_arena_strndup(r->arena, (const char *)r->p + r->pos, (size_t)n);
    if (d == NULL)
        return hh_err_set(r->err, HH_ENOMEM, (int64_t)at, "%s: out of memory", r->ctx);
    r->pos += n;
    *s = d;
    if (len)
        *len = n;
    return HH_OK;
}

/* Fills a scalar value of fixed-size type t from the next bytes. */
static int rd_scalar(reader_t *r, hh_gguf_vtype_t t, hh_gguf_value_t *v)
{
    size_t sz = hh_gguf_vtype_size(t);
    int rc = need(r, sz, hh_gguf_vtype_name(t));
    if (rc)
        return rc;
    uint64_t raw = le(r->p + r->pos, sz);
    r->pos += sz;
    v->type = t;
    switch (t) {
    case HH_GGUF_U8: case HH_GGUF_U16: case HH_GGUF_U32: case HH_GGUF_U64:
        v->v.u = raw;
        break;
    case HH_GGUF_BOOL:
        v->v.u = raw != 0;
        break;
    case HH_GGUF_I8:  v->v.i = (int8_t)raw; break;
    case HH_GGUF_I16: v->v.i = (int16_t)raw; break;
    case HH_GGUF_I32: v->v.i = (int32_t)raw; break;
    case HH_GGUF_I64: v->v.i = (int64_t)raw; break;
    case HH_GGUF_F32: {
        uint32_t b = (uint32_t)raw;
        float f;
        memcpy(&f, &b, 4);
        v->v.f = f;
        break;
    }
    case HH_GGUF_F64: {
        double d;
        memcpy(&d, &raw, 8);
        v->v.f = d;
        break;
    }
    default:
        break;
    }
    return HH_OK;
}

static int rd_value(reader_t *r, hh_gguf_vtype_t t, int depth, hh_gguf_value_t *v);

static int rd_array(reader_t *r, int depth, hh_gguf_value_t *v)
{
    uint64_t at = r->pos;
    uint32_t et;
    uint64_t n;
    int rc = rd_u32(r, "array element type", &et);
    if (rc)
        return rc;
    if (et >= HH_GGUF_VTYPE_COUNT)
        return hh_err_set(r->err, HH_EFORMAT, (int64_t)at, "%s: unknown array element type %u",
                          r->ctx, et);
    if (et == HH_GGUF_ARR && depth + 1 > HH_GGUF_MAX_ARRAY_DEPTH)
        return hh_err_set(r->err, HH_EFORMAT, (int64_t)at,
                          "%s: arrays nested deeper than %d levels", r->ctx, HH_GGUF_MAX_ARRAY_DEPTH);
    uint64_t at_n = r->pos;
    rc = rd_u64(r, "array length", &n);
    if (rc)
        return rc;
    /* Smallest encoding of one element: a fixed-size value, a string's
     * length, or a nested array's type + length. */
    uint64_t min = et == HH_GGUF_STR ? 8 : et == HH_GGUF_ARR ? 12 : hh_gguf_vtype_size(et);
    if (n > remain(r) / min)
        return hh_err_set(r->err, HH_ETRUNC, (int64_t)at_n,
                          "%s: array length %llu of %s needs at least %llu bytes, only %llu remain",
                          r->ctx, (unsigned long long)n, hh_gguf_vtype_name(et),
                          (unsigned long long)(n > UINT64_MAX / min ? UINT64_MAX : n * min),
                          (unsigned long long)remain(r));
    v->type = HH_GGUF_ARR;
    v->v.arr.elem = et;
    v->v.arr.n = n;
    /* n * (up to 56 bytes) is bounded by a small multiple of the file size,
     * which is held in memory already; size_t overflow is impossible here
     * on 64-bit, but check anyway for 32-bit builds. */
    if (et == HH_GGUF_STR) {
        if (n > SIZE_MAX / sizeof(char *))
            return hh_err_set(r->err, HH_EOVERFLOW, (int64_t)at_n, "%s: array too large", r->ctx);
        const char **strs = hh_gguf_arena_alloc(r->arena, (size_t)n * sizeof(char *));
        uint64_t *lens = hh_gguf_arena_alloc(r->arena, (size_t)n * sizeof(uint64_t));
        if (strs == NULL || lens == NULL)
            return hh_err_set(r->err, HH_ENOMEM, (int64_t)at_n, "%s: out of memory", r->ctx);
        for (uint64_t i = 0; i < n; i++) {
            rc = rd_str(r, "array string", UINT64_MAX, &strs[i], &lens[i]);
            if (rc)
                return rc;
        }
        v->v.arr.strs = strs;
        v->v.arr.str_lens = lens;
    } else if (et == HH_GGUF_ARR) {
        if (n > SIZE_MAX / sizeof(hh_gguf_value_t))
            return hh_err_set(r->err, HH_EOVERFLOW, (int64_t)at_n, "%s: array too large", r->ctx);
        hh_gguf_value_t *items = hh_gguf_arena_alloc(r->arena, (size_t)n * sizeof(hh_gguf_value_t));
        if (items == NULL)
            return hh_err_set(r->err, HH_ENOMEM, (int64_t)at_n, "%s: out of memory", r->ctx);
        for (uint64_t i = 0; i < n; i++) {
            rc = rd_array(r, depth + 1, &items[i]);
            if (rc)
                return rc;
        }
        v->v.arr.items = items;
    } else {
        /* Fixed-size elements: copied so they are aligned for their type. */
        size_t bytes = (size_t)(n * min);
        void *d = hh_gguf_arena_alloc(r->arena, bytes);
        if (d == NULL)
            return hh_err_set(r->err, HH_ENOMEM, (int64_t)at_n, "%s: out of memory", r->ctx);
        if (bytes)
            memcpy(d, r->p + r->pos, bytes);
        r->pos += bytes;
        v->v.arr.data = d;
    }
    return HH_OK;
}

static int rd_value(reader_t *r, hh_gguf_vtype_t t, int depth, hh_gguf_value_t *v)
{
    if (t == HH_GGUF_STR) {
        v->type = HH_GGUF_STR;
        return rd_str(r, "string", UINT64_MAX, &v->v.str.s, &v->v.str.len);
    }
    if (t == HH_GGUF_ARR)
        return rd_array(r, depth + 1, v);
    return rd_scalar(r, t, v);
}

static uint64_t align_up(uint64_t x, uint64_t a, bool *ovf)
{
    uint64_t m = x % a;
    if (m == 0)
        return x;
    if (x > UINT64_MAX - (a - m)) {
        *ovf = true;
        return 0;
    }
    return x + (a - m);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

typedef struct by_offset {
    uint64_t offset;
    int64_t  index;
} by_offset_t;

static int cmp_offset(const void *a, const void *b)
{
    const by_offset_t *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int parse_header(hh_gguf_t *g, reader_t *r)
{
    hh_err_t *err = r->err;
    if (r->size < 4)
        return hh_err_set(err, HH_ETRUNC, 0, "file is %llu bytes, too short for the GGUF magic",
                          (unsigned long long)r->size);
    if (memcmp(r->p, HH_GGUF_MAGIC, 4) != 0) {
        char m[20];
        int k = 0;
        for (int i = 0; i < 4; i++) {
            unsigned char c = r->p[i];
            k += snprintf(m + k, sizeof m - (size_t)k, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
        }
        return hh_err_set(err, HH_EFORMAT, 0, "bad magic '%s' (expected 'GGUF'): not a GGUF file", m);
    }
    r->pos = 4;
    uint32_t ver;
    int rc = rd_u32(r, "version", &ver);
    if (rc)
        return rc;
    if (ver == 1)
        return hh_err_set(err, HH_EUNSUPPORTED, 4,
                          "GGUF version 1 is not supported (32-bit counts; only versions 2 and 3 are); "
                          "convert the file with a current tool");
    if (ver == 0x02000000u || ver == 0x03000000u)
        return hh_err_set(err, HH_EUNSUPPORTED, 4, "big-endian GGUF files are not supported");
    if (ver != 2 && ver != 3)
        return hh_err_set(err, HH_EUNSUPPORTED, 4, "GGUF version %u is not supported (only 2 and 3)", ver);
    g->version = ver;

    uint64_t nt, nkv;
    if ((rc = rd_u64(r, "n_tensors", &nt)) || (rc = rd_u64(r, "n_kv", &nkv)))
        return rc;
    /* Each kv takes at least 13 bytes (key length, type, 1-byte value), each
     * tensor info at least 32 (name length, n_dims, one dim, type, offset). */
    if (nkv > remain(r) / 13)
        return hh_err_set(err, HH_ETRUNC, 16,
                          "n_kv %llu needs at least %llu bytes of metadata, only %llu remain (file size %llu)",
                          (unsigned long long)nkv,
                          (unsigned long long)(nkv > UINT64_MAX / 13 ? UINT64_MAX : nkv * 13),
                          (unsigned long long)remain(r), (unsigned long long)r->size);
    if (nt > (remain(r) - nkv * 13) / 32)
        return hh_err_set(err, HH_ETRUNC, 8,
                          "n_tensors %llu needs at least %llu bytes of tensor infos, only %llu remain "
                          "(file size %llu)",
                          (unsigned long long)nt,
                          (unsigned long long)(nt > UINT64_MAX / 32 ? UINT64_MAX : nt * 32),
                          (unsigned long long)(remain(r) - nkv * 13), (unsigned long long)r->size);
    g->n_kv = (int64_t)nkv;
    g->n_tensors = (int64_t)nt;
    return HH_OK;
}

static int parse_kvs(hh_gguf_t *g, reader_t *r)
{
    hh_err_t *err = r->err;
    int64_t n = g->n_kv;
    g->keys = hh_gguf_arena_alloc(&g->arena, (size_t)n * sizeof(char *));
    g->values = hh_gguf_arena_alloc(&g->arena, (size_t)n * sizeof(hh_gguf_value_t));
    if (g->keys == NULL || g->values == NULL || index_init(&g->kv_index, &g->arena, n))
        return hh_err_set(err, HH_ENOMEM, (int64_t)r->pos, "out of memory for %lld kv pairs", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        uint64_t at = r->pos;
        snprintf(r->ctx, sizeof r->ctx, "kv %lld", (long long)i);
        uint64_t klen;
        int rc = rd_str(r, "key", HH_GGUF_MAX_KEY_LEN, &g->keys[i], &klen);
        if (rc)
            return rc;
        if (klen == 0 || strlen(g->keys[i]) != klen)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at, "kv %lld: key is empty or contains a NUL byte",
                              (long long)i);
        snprintf(r->ctx, sizeof r->ctx, "kv %lld '%.200s'", (long long)i, g->keys[i]);
        int64_t dup = index_insert(&g->kv_index, g->keys, sizeof(char *), g->keys[i], i);
        if (dup >= 0)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at, "%s: duplicate key (first at kv %lld)",
                              r->ctx, (long long)dup);
        uint64_t at_t = r->pos;
        uint32_t t;
        if ((rc = rd_u32(r, "value type", &t)))
            return rc;
        if (t >= HH_GGUF_VTYPE_COUNT)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at_t, "%s: unknown value type %u", r->ctx, t);
        if ((rc = rd_value(r, (hh_gguf_vtype_t)t, 0, &g->values[i])))
            return rc;
    }
    r->ctx[0] = '\0';

    g->alignment = HH_GGUF_DEFAULT_ALIGNMENT;
    const hh_gguf_value_t *al = hh_gguf_get(g, "general.alignment");
    if (al) {
        if (al->type != HH_GGUF_U32)
            return hh_err_set(err, HH_EFORMAT, -1, "general.alignment has type %s (expected u32)",
                              hh_gguf_vtype_name(al->type));
        uint64_t a = al->v.u;
        if (a == 0 || (a & (a - 1)) != 0)
            return hh_err_set(err, HH_EFORMAT, -1,
                              "general.alignment %llu is not a nonzero power of two", (unsigned long long)a);
        g->alignment = a;
    }
    return HH_OK;
}

static int parse_tensors(hh_gguf_t *g, reader_t *r)
{
    hh_err_t *err = r->err;
    int64_t n = g->n_tensors;
    g->tensors = hh_gguf_arena_alloc(&g->arena, (size_t)n * sizeof(hh_gguf_tensor_t));
    uint64_t *info_pos = hh_gguf_arena_alloc(&g->arena, (size_t)n * sizeof(uint64_t));
    if (g->tensors == NULL || info_pos == NULL || index_init(&g->tensor_index, &g->arena, n))
        return hh_err_set(err, HH_ENOMEM, (int64_t)r->pos, "out of memory for %lld tensors", (long long)n);
    int rc;
    for (int64_t i = 0; i < n; i++) {
        hh_gguf_tensor_t *t = &g->tensors[i];
        uint64_t at = r->pos;
        info_pos[i] = at;
        snprintf(r->ctx, sizeof r->ctx, "tensor %lld", (long long)i);
        uint64_t nlen;
        if ((rc = rd_str(r, "name", HH_GGUF_MAX_NAME_LEN, &t->name, &nlen)))
            return rc;
        if (nlen == 0 || strlen(t->name) != nlen)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at, "tensor %lld: name is empty or contains a NUL byte",
                              (long long)i);
        snprintf(r->ctx, sizeof r->ctx, "tensor %lld '%s'", (long long)i, t->name);
        int64_t dup = index_insert(&g->tensor_index, (const char *const *)&g->tensors[0].name,
                                   sizeof(hh_gguf_tensor_t), t->name, i);
        if (dup >= 0)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at, "%s: duplicate tensor name (first at tensor %lld)",
                              r->ctx, (long long)dup);
        uint64_t at_d = r->pos;
        if ((rc = rd_u32(r, "n_dims", &t->n_dims)))
            return rc;
        if (t->n_dims < 1 || t->n_dims > HH_GGUF_MAX_DIMS)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at_d, "%s: n_dims %u outside 1..%d",
                              r->ctx, t->n_dims, HH_GGUF_MAX_DIMS);
        uint64_t nelem = 1;
        for (int d = 0; d < HH_GGUF_MAX_DIMS; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t at_e = r->pos;
            uint64_t e;
            if ((rc = rd_u64(r, "dimension", &e)))
                return rc;
            if (e == 0 || e > (uint64_t)INT64_MAX)
                return hh_err_set(err, HH_EFORMAT, (int64_t)at_e, "%s: dimension %u is %lld (must be >= 1)",
                                  r->ctx, d, (long long)(int64_t)e);
            if (e > (uint64_t)INT64_MAX / nelem)
                return hh_err_set(err, HH_EOVERFLOW, (int64_t)at_e,
                                  "%s: element count overflows (dimension %u = %llu)", r->ctx, d,
                                  (unsigned long long)e);
            nelem *= e;
            t->ne[d] = (int64_t)e;
        }
        uint64_t at_t = r->pos;
        if ((rc = rd_u32(r, "type", &t->type)))
            return rc;
        const hh_type_traits_t *tr = hh_type_traits(t->type);
        if (tr == NULL)
            return hh_err_set(err, HH_EUNSUPPORTED, (int64_t)at_t,
                              "%s: unknown tensor type %u (hoheit computes with: %s)", r->ctx, t->type,
                              hh_type_supported_list());
        size_t row;
        rc = hh_type_row_size(t->type, t->ne[0], &row);
        if (rc == HH_EOVERFLOW)
            return hh_err_set(err, HH_EOVERFLOW, (int64_t)at_t, "%s: row size overflows", r->ctx);
        if (rc)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at_t,
                              "%s: row length %lld is not a multiple of the %s block size %d",
                              r->ctx, (long long)t->ne[0], tr->name, tr->blck);
        uint64_t rows = nelem / (uint64_t)t->ne[0];
        if (row != 0 && rows > SIZE_MAX / row)
            return hh_err_set(err, HH_EOVERFLOW, (int64_t)at_t, "%s: byte size overflows (%llu rows of %zu bytes)",
                              r->ctx, (unsigned long long)rows, row);
        t->nbytes = (size_t)rows * row;
        uint64_t at_o = r->pos;
        if ((rc = rd_u64(r, "offset", &t->offset)))
            return rc;
        if (t->offset % g->alignment != 0)
            return hh_err_set(err, HH_EFORMAT, (int64_t)at_o, "%s: offset %llu is not a multiple of the alignment %llu",
                              r->ctx, (unsigned long long)t->offset, (unsigned long long)g->alignment);
        info_pos[i] = at_o;
    }
    r->ctx[0] = '\0';

    bool ovf = false;
    g->data_offset = align_up(r->pos, g->alignment, &ovf);
    if (ovf || (n > 0 && g->data_offset > r->size))
        return hh_err_set(err, HH_ETRUNC, (int64_t)r->pos,
                          "data section at offset %llu (aligned to %llu) is past end of file (size %llu)",
                          (unsigned long long)r->pos, (unsigned long long)g->alignment,
                          (unsigned long long)r->size);
    uint64_t data_size = g->data_offset <= r->size ? r->size - g->data_offset : 0;
    for (int64_t i = 0; i < n; i++) {
        const hh_gguf_tensor_t *t = &g->tensors[i];
        if (t->offset > data_size || t->nbytes > data_size - t->offset) {
            unsigned long long end = sat_add(sat_add(g->data_offset, t->offset), t->nbytes);
            return hh_err_set(err, HH_ETRUNC, (int64_t)info_pos[i],
                              "tensor %lld '%s': offset+size %llu past end of file (size %llu)",
                              (long long)i, t->name, end, (unsigned long long)r->size);
        }
    }
    /* Overlap: sort by offset, each must end before the next begins. */
    if (n > 1) {
        by_offset_t *ord = malloc((size_t)n * sizeof *ord);
        if (ord == NULL)
            return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        for (int64_t i = 0; i < n; i++) {
            ord[i].offset = g->tensors[i].offset;
            ord[i].index = i;
        }
        qsort(ord, (size_t)n, sizeof *ord, cmp_offset);
        rc = HH_OK;
        for (int64_t k = 1; k < n; k++) {
            const hh_gguf_tensor_t *a = &g->tensors[ord[k - 1].index];
            const hh_gguf_tensor_t *b = &g->tensors[ord[k].index];
            if (a->offset + a->nbytes > b->offset) {
                rc = hh_err_set(err, HH_EFORMAT, (int64_t)info_pos[ord[k].index],
                                "tensor %lld '%s' (offset %llu) overlaps tensor %lld '%s' (offset %llu, %zu bytes)",
                                (long long)ord[k].index, b->name, (unsigned long long)b->offset,
                                (long long)ord[k - 1].index, a->name, (unsigned long long)a->offset, a->nbytes);
                break;
            }
        }
        free(ord);
        if (rc)
            return rc;
    }
    return HH_OK;
}

/* Parses an image into a fresh handle (tensor data pointers unset). */
static int parse(hh_gguf_t **out, const void *data, size_t size, hh_err_t *err)
{
    *out = NULL;
    hh_gguf_t *g = calloc(1, sizeof *g);
    if (g == NULL)
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    reader_t r = { .p = data, .size = size, .pos = 0, .err = err, .arena = &g->arena };
    g->file_size = size;
    int rc = parse_header(g, &r);
    if (rc == HH_OK)
        rc = parse_kvs(g, &r);
    if (rc == HH_OK)
        rc = parse_tensors(g, &r);
    if (rc) {
        hh_gguf_close(g);
        return rc;
    }
    *out = g;
    return HH_OK;
}

int hh_gguf_open_memory(hh_gguf_t **out, const void *data, size_t size, hh_err_t *err)
{
    hh_err_clear(err);
    if (out == NULL || (data == NULL && size != 0))
        return hh_err_set(err, HH_EINVAL, -1, "hh_gguf_open_memory: NULL argument");
    hh_gguf_t *g;
    int rc = parse(&g, size ? data : "", size, err);
    if (rc)
        return rc;
    for (int64_t i = 0; i < g->n_tensors; i++)
        g->tensors[i].data = (const uint8_t *)data + g->data_offset + g->tensors[i].offset;
    *out = g;
    return HH_OK;
}

static void lock_data(const void *p, size_t n)
{
    if (n == 0)
        return;
    if (mlock(p, n) != 0)
        HH_LOGW("gguf: mlock of %zu bytes of tensor data failed (%s); continuing unlocked "
                "(raise RLIMIT_MEMLOCK / ulimit -l to lock)", n, strerror(errno));
}

int hh_gguf_open(hh_gguf_t **out, const char *path, const hh_gguf_params_t *params, hh_err_t *err)
{
    hh_err_clear(err);
    if (out == NULL || path == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "hh_gguf_open: NULL argument");
    *out = NULL;
    hh_gguf_params_t p = params ? *params : hh_gguf_default_params();
    hh_gguf_t *g = NULL;
    void *map = MAP_FAILED;
    size_t size = 0;
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hh_err_set(err, errno == ENOENT ? HH_ENOENT : HH_EIO, -1, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = hh_err_set(err, HH_EINVAL, -1, "%s: not a regular file", path);
        goto cleanup;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        rc = hh_err_set(err, HH_EOVERFLOW, -1, "%s: too large to map", path);
        goto cleanup;
    }
    size = (size_t)st.st_size;
    if (size == 0) {
        rc = hh_err_set(err, HH_ETRUNC, 0, "%s: empty file", path);
        goto cleanup;
    }
    /* The metadata is parsed from a read-only mapping; pages are read on
     * first touch, so with no_data or READ the tensor data is not read twice. */
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        rc = hh_err_set(err, HH_EIO, -1, "%s: mmap failed: %s", path, strerror(errno));
        goto cleanup;
    }
    if ((rc = parse(&g, map, size, err)))
        goto cleanup;

    uint64_t data_size = size - (g->data_offset < size ? g->data_offset : size);
    if (p.no_data || g->n_tensors == 0) {
        /* tensor data stays NULL */
    } else if (p.load == HH_GGUF_LOAD_READ) {
        g->buf_size = (size_t)data_size;
        if (g->buf_size) {
            g->buf = mmap(NULL, g->buf_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (g->buf == MAP_FAILED) {
                g->buf = NULL;
                rc = hh_err_set(err, HH_ENOMEM, -1, "%s: cannot allocate %zu bytes for tensor data",
                                path, g->buf_size);
                goto cleanup;
            }
        }
        size_t done = 0;
        while (done < g->buf_size) {
            ssize_t k = pread(fd, (char *)g->buf + done, g->buf_size - done, (off_t)(g->data_offset + done));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                rc = hh_err_set(err, k < 0 ? HH_EIO : HH_ETRUNC, (int64_t)(g->data_offset + done),
                                "%s: reading tensor data: %s", path, k < 0 ? strerror(errno) : "file shrank");
                goto cleanup;
            }
            done += (size_t)k;
        }
        if (p.mlock)
            lock_data(g->buf, g->buf_size);
        for (int64_t i = 0; i < g->n_tensors; i++)
            g->tensors[i].data = (const uint8_t *)g->buf + g->tensors[i].offset;
    } else {
        g->map = map;
        g->map_size = size;
        map = MAP_FAILED;
        if (p.mlock && data_size) {
            /* mlock wants a page-aligned start. */
            uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
            uintptr_t start = ((uintptr_t)g->map + g->data_offset) & ~(page - 1);
            lock_data((const void *)start, (uintptr_t)g->map + size - start);
        }
        for (int64_t i = 0; i < g->n_tensors; i++)
            g->tensors[i].data = (const uint8_t *)g->map + g->data_offset + g->tensors[i].offset;
    }
    *out = g;
    g = NULL;
    rc = HH_OK;
cleanup:
    if (map != MAP_FAILED)
        munmap(map, size);
    if (g)
        hh_gguf_close(g);
    close(fd);
    return rc;
}

void hh_gguf_close(hh_gguf_t *g)
{
    if (g == NULL)
        return;
    if (g->map)
        munmap(g->map, g->map_size);
    if (g->buf)
        munmap(g->buf, g->buf_size);
    hh_gguf_arena_free(&g->arena);
    free(g);
}

/* ---- accessors ------------------------------------------------------ */

uint32_t hh_gguf_version(const hh_gguf_t *g) { return g->version; }
uint64_t hh_gguf_file_size(const hh_gguf_t *g) { return g->file_size; }
uint64_t hh_gguf_alignment(const hh_gguf_t *g) { return g->alignment; }
uint64_t hh_gguf_data_offset(const hh_gguf_t *g) { return g->data_offset; }
int64_t  hh_gguf_n_kv(const hh_gguf_t *g) { return g->n_kv; }
int64_t  hh_gguf_n_tensors(const hh_gguf_t *g) { return g->n_tensors; }

const char *hh_gguf_kv_key(const hh_gguf_t *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? g->keys[i] : NULL;
}

const hh_gguf_value_t *hh_gguf_kv_value(const hh_gguf_t *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? &g->values[i] : NULL;
}

int64_t hh_gguf_find_kv(const hh_gguf_t *g, const char *key)
{
    if (g == NULL || key == NULL)
        return -1;
    return index_find(&g->kv_index, g->keys, sizeof(char *), key);
}

const hh_gguf_value_t *hh_gguf_get(const hh_gguf_t *g, const char *key)
{
    int64_t i = hh_gguf_find_kv(g, key);
    return i < 0 ? NULL : &g->values[i];
}

const hh_gguf_tensor_t *hh_gguf_tensor(const hh_gguf_t *g, int64_t i)
{
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const hh_gguf_tensor_t *hh_gguf_find_tensor(const hh_gguf_t *g, const char *name)
{
    if (g == NULL || name == NULL || g->n_tensors == 0)
        return NULL;
    int64_t i = index_find(&g->tensor_index, (const char *const *)&g->tensors[0].name,
                           sizeof(hh_gguf_tensor_t), name);
    return i < 0 ? NULL : &g->tensors[i];
}

static bool is_unsigned(hh_gguf_vtype_t t)
{
    return t == HH_GGUF_U8 || t == HH_GGUF_U16 || t == HH_GGUF_U32 || t == HH_GGUF_U64;
}

static bool is_signed(hh_gguf_vtype_t t)
{
    return t == HH_GGUF_I8 || t == HH_GGUF_I16 || t == HH_GGUF_I32 || t == HH_GGUF_I64;
}

int hh_gguf_get_u32(const hh_gguf_t *g, const char *key, uint32_t *out)
{
    const hh_gguf_value_t *v = hh_gguf_get(g, key);
    if (v == NULL)
        return HH_ENOENT;
    if (is_unsigned(v->type) && v->v.u <= UINT32_MAX) {
        *out = (uint32_t)v->v.u;
        return HH_OK;
    }
    if (is_signed(v->type) && v->v.i >= 0 && v->v.i <= (int64_t)UINT32_MAX) {
        *out = (uint32_t)v->v.i;
        return HH_OK;
    }
    return HH_EFORMAT;
}

int hh_gguf_get_i64(const hh_gguf_t *g, const char *key, int64_t *out)
{
    const hh_gguf_value_t *v = hh_gguf_get(g, key);
    if (v == NULL)
        return HH_ENOENT;
    if (is_unsigned(v->type) && v->v.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)v->v.u;
        return HH_OK;
    }
    if (is_signed(v->type)) {
        *out = v->v.i;
        return HH_OK;
    }
    return HH_EFORMAT;
}

int hh_gguf_get_f32(const hh_gguf_t *g, const char *key, float *out)
{
    const hh_gguf_value_t *v = hh_gguf_get(g, key);
    if (v == NULL)
        return HH_ENOENT;
    if (v->type != HH_GGUF_F32 && v->type != HH_GGUF_F64)
        return HH_EFORMAT;
    *out = (float)v->v.f;
    return HH_OK;
}

int hh_gguf_get_bool(const hh_gguf_t *g, const char *key, bool *out)
{
    const hh_gguf_value_t *v = hh_gguf_get(g, key);
    if (v == NULL)
        return HH_ENOENT;
    if (v->type != HH_GGUF_BOOL)
        return HH_EFORMAT;
    *out = v->v.u != 0;
    return HH_OK;
}

int hh_gguf_get_str(const hh_gguf_t *g, const char *key, const char **out)
{
    const hh_gguf_value_t *v = hh_gguf_get(g, key);
    if (v == NULL)
        return HH_ENOENT;
    if (v->type != HH_GGUF_STR)
        return HH_EFORMAT;
    *out = v->v.str.s;
    return HH_OK;
}

int hh_gguf_get_arr(const hh_gguf_t *g, const char *key, hh_gguf_vtype_t elem, const hh_gguf_value_t **out)
{
    const hh_gguf_value_t *v = hh_gguf_get(g, key);
    if (v == NULL)
        return HH_ENOENT;
    if (v->type != HH_GGUF_ARR || v->v.arr.elem != elem)
        return HH_EFORMAT;
    *out = v;
    return HH_OK;
}
