/* gguf_write.c - GGUF writer: collects metadata (deep copies) and tensor
 * descriptions, then serializes them in the order added, each tensor's data
 * at an aligned offset and padded to the alignment, either to memory or to a
 * file written atomically (temporary file in the same directory + rename).
 * Tensor bytes come from a caller's buffer or a fill callback at write time,
 * so a converter never holds every output tensor at once. */
#include "gguf/gguf.h"
#include "gguf/gguf_int.h"

#include "kernels/quant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct wkv {
    const char     *key;   /* arena */
    hh_gguf_value_t val;   /* deep copy in the arena */
} wkv_t;

typedef struct wtensor {
    const char     *name;  /* arena */
    uint32_t        type;
    uint32_t        n_dims;
    int64_t         ne[HH_GGUF_MAX_DIMS];
    size_t          nbytes;
    uint64_t        offset;   /* set by layout() */
    const void     *data;     /* caller's, or NULL when fill is set */
    hh_gguf_fill_fn fill;
    void           *fill_ctx;
} wtensor_t;

struct hh_gguf_writer {
    uint32_t  version;
    uint64_t  alignment;
    wkv_t    *kv;         /* malloc'd, [n_kv] */
    int64_t   n_kv, cap_kv;
    wtensor_t *t;         /* malloc'd, [n_t] */
    int64_t   n_t, cap_t;
    hh_gguf_arena_t arena;
};

static int grow(void **arr, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap)
        return HH_OK;
    int64_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    if ((uint64_t)nc > SIZE_MAX / elem)
        return HH_ENOMEM;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (p == NULL)
        return HH_ENOMEM;
    *arr = p;
    *cap = nc;
    return HH_OK;
}

int hh_gguf_writer_create(hh_gguf_writer_t **out, uint32_t version, uint64_t alignment)
{
    if (out == NULL)
        return HH_EINVAL;
    *out = NULL;
    if (version == 0)
        version = 3;
    if (alignment == 0)
        alignment = HH_GGUF_DEFAULT_ALIGNMENT;
    if ((version != 2 && version != 3) || (alignment & (alignment - 1)) != 0 || alignment > UINT32_MAX)
        return HH_EINVAL;
    hh_gguf_writer_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return HH_ENOMEM;
    w->version = version;
    w->alignment = alignment;
    /* A reader only learns a non-default alignment from this key. */
    if (alignment != HH_GGUF_DEFAULT_ALIGNMENT) {
        int rc = hh_gguf_writer_set_u32(w, "general.alignment", (uint32_t)alignment);
        if (rc) {
            hh_gguf_writer_free(w);
            return rc;
        }
    }
    *out = w;
    return HH_OK;
}

void hh_gguf_writer_free(hh_gguf_writer_t *w)
{
    if (w == NULL)
        return;
    free(w->kv);
    free(w->t);
    hh_gguf_arena_free(&w->arena);
    free(w);
}

/* Deep copy of src into dst (arena), validating it like the reader would. */
static int copy_value(hh_gguf_arena_t *a, hh_gguf_value_t *dst, const hh_gguf_value_t *src, int depth)
{
    if ((unsigned)src->type >= HH_GGUF_VTYPE_COUNT)
        return HH_EINVAL;
    *dst = *src;
    if (src->type == HH_GGUF_STR) {
        if (src->v.str.s == NULL && src->v.str.len)
            return HH_EINVAL;
        char *s = hh_gguf_arena_strndup(a, src->v.str.s ? src->v.str.s : "", (size_t)src->v.str.len);
        if (s == NULL)
            return HH_ENOMEM;
        dst->v.str.s = s;
        return HH_OK;
    }
    if (src->type != HH_GGUF_ARR)
        return HH_OK;
    if (depth + 1 > HH_GGUF_MAX_ARRAY_DEPTH)
        return HH_EINVAL;
    hh_gguf_vtype_t et = src->v.arr.elem;
    uint64_t n = src->v.arr.n;
    if ((unsigned)et >= HH_GGUF_VTYPE_COUNT)
        return HH_EINVAL;
    dst->v.arr.data = NULL;
    dst->v.arr.strs = NULL;
    dst->v.arr.str_lens = NULL;
    dst->v.arr.items = NULL;
    if (et == HH_GGUF_STR) {
        if (n && (src->v.arr.strs == NULL || src->v.arr.str_lens == NULL))
            return HH_EINVAL;
        if (n > SIZE_MAX / sizeof(uint64_t))
            return HH_EOVERFLOW;
        const char **strs = hh_gguf_arena_alloc(a, (size_t)n * sizeof(char *));
        uint64_t *lens = hh_gguf_arena_alloc(a, (size_t)n * sizeof(uint64_t));
        if (strs == NULL || lens == NULL)
            return HH_ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
            const char *s = src->v.arr.strs[i];
            if (s == NULL && src->v.arr.str_lens[i])
                return HH_EINVAL;
            strs[i] = hh_gguf_arena_strndup(a, s ? s : "", (size_t)src->v.arr.str_lens[i]);
            if (strs[i] == NULL)
                return HH_ENOMEM;
            lens[i] = src->v.arr.str_lens[i];
        }
        dst->v.arr.strs = strs;
        dst->v.arr.str_lens = lens;
    } else if (et == HH_GGUF_ARR) {
        if (n && src->v.arr.items == NULL)
            return HH_EINVAL;
        if (n > SIZE_MAX / sizeof(hh_gguf_value_t))
            return HH_EOVERFLOW;
        hh_gguf_value_t *items = hh_gguf_arena_alloc(a, (size_t)n * sizeof(hh_gguf_value_t));
        if (items == NULL)
            return HH_ENOMEM;
        for (uint64_t i = 0; i < n; i++) {
            if (src->v.arr.items[i].type != HH_GGUF_ARR)
                return HH_EINVAL;
            int rc = copy_value(a, &items[i], &src->v.arr.items[i], depth + 1);
            if (rc)
                return rc;
        }
        dst->v.arr.items = items;
    } else {
        size_t es = hh_gguf_vtype_size(et);
        if (n && src->v.arr.data == NULL)
            return HH_EINVAL;
        if (n > SIZE_MAX / es)
            return HH_EOVERFLOW;
        void *d = hh_gguf_arena_alloc(a, (size_t)n * es);
        if (d == NULL)
            return HH_ENOMEM;
        if (n)
            memcpy(d, src->v.arr.data, (size_t)n * es);
        dst->v.arr.data = d;
    }
    return HH_OK;
}

int hh_gguf_writer_set_value(hh_gguf_writer_t *w, const char *key, const hh_gguf_value_t *v)
{
    if (w == NULL || key == NULL || v == NULL || key[0] == '\0' || strlen(key) > HH_GGUF_MAX_KEY_LEN)
        return HH_EINVAL;
    hh_gguf_value_t copy;
    int rc = copy_value(&w->arena, &copy, v, 0);
    if (rc)
        return rc;
    /* An existing key keeps its position and takes the new value. */
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            w->kv[i].val = copy;
            return HH_OK;
        }
    }
    if ((rc = grow((void **)&w->kv, &w->cap_kv, w->n_kv + 1, sizeof(wkv_t))))
        return rc;
    const char *k = hh_gguf_arena_strndup(&w->arena, key, strlen(key));
    if (k == NULL)
        return HH_ENOMEM;
    w->kv[w->n_kv].key = k;
    w->kv[w->n_kv].val = copy;
    w->n_kv++;
    return HH_OK;
}

int hh_gguf_writer_set_u32(hh_gguf_writer_t *w, const char *key, uint32_t v)
{
    hh_gguf_value_t val = { .type = HH_GGUF_U32, .v.u = v };
    return hh_gguf_writer_set_value(w, key, &val);
}

int hh_gguf_writer_set_i32(hh_gguf_writer_t *w, const char *key, int32_t v)
{
    hh_gguf_value_t val = { .type = HH_GGUF_I32, .v.i = v };
    return hh_gguf_writer_set_value(w, key, &val);
}

int hh_gguf_writer_set_u64(hh_gguf_writer_t *w, const char *key, uint64_t v)
{
    hh_gguf_value_t val = { .type = HH_GGUF_U64, .v.u = v };
    return hh_gguf_writer_set_value(w, key, &val);
}

int hh_gguf_writer_set_f32(hh_gguf_writer_t *w, const char *key, float v)
{
    hh_gguf_value_t val = { .type = HH_GGUF_F32, .v.f = v };
    return hh_gguf_writer_set_value(w, key, &val);
}

int hh_gguf_writer_set_bool(hh_gguf_writer_t *w, const char *key, bool v)
{
    hh_gguf_value_t val = { .type = HH_GGUF_BOOL, .v.u = v ? 1 : 0 };
    return hh_gguf_writer_set_value(w, key, &val);
}

int hh_gguf_writer_set_str(hh_gguf_writer_t *w, const char *key, const char *v)
{
    if (v == NULL)
        return HH_EINVAL;
    hh_gguf_value_t val = { .type = HH_GGUF_STR, .v.str = { v, strlen(v) } };
    return hh_gguf_writer_set_value(w, key, &val);
}

int hh_gguf_writer_add_tensor(hh_gguf_writer_t *w, const char *name, uint32_t type,
                              uint32_t n_dims, const int64_t *ne,
                              const void *data, hh_gguf_fill_fn fill, void *fill_ctx)
{
    if (w == NULL || name == NULL || ne == NULL || name[0] == '\0' || strlen(name) > HH_GGUF_MAX_NAME_LEN)
        return HH_EINVAL;
    if ((data == NULL) == (fill == NULL))
        return HH_EINVAL;   /* exactly one source */
    if (n_dims < 1 || n_dims > HH_GGUF_MAX_DIMS || hh_type_traits(type) == NULL)
        return HH_EINVAL;
    uint64_t rows = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] < 1)
            return HH_EINVAL;
        if (d > 0) {
            if ((uint64_t)ne[d] > (uint64_t)INT64_MAX / rows)
                return HH_EOVERFLOW;
            rows *= (uint64_t)ne[d];
        }
    }
    size_t row;
    int rc = hh_type_row_size(type, ne[0], &row);
    if (rc)
        return rc;
    if ((uint64_t)ne[0] > (uint64_t)INT64_MAX / rows || (row && rows > SIZE_MAX / row))
        return HH_EOVERFLOW;
    for (int64_t i = 0; i < w->n_t; i++) {
        if (strcmp(w->t[i].name, name) == 0)
            return HH_EINVAL;   /* duplicate name */
    }
    if ((rc = grow((void **)&w->t, &w->cap_t, w->n_t + 1, sizeof(wtensor_t))))
        return rc;
    wtensor_t *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = hh_gguf_arena_strndup(&w->arena, name, strlen(name));
    if (t->name == NULL)
        return HH_ENOMEM;
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < HH_GGUF_MAX_DIMS; d++)
        t->ne[d] = (uint32_t)d < n_dims ? ne[d] : 1;
    t->nbytes = (size_t)rows * row;
    t->data = data;
    t->fill = fill;
    t->fill_ctx = fill_ctx;
    w->n_t++;
    return HH_OK;
}

/* ---- serialization -------------------------------------------------- */

typedef struct wbuf {
    uint8_t *p;
    size_t   len, cap;
    int      rc;   /* first failure; further puts are ignored */
} wbuf_t;

static void put(wbuf_t *b, const void *src, size_t n)
{
    if (b->rc)
        return;
    if (n > SIZE_MAX - b->len) {
        b->rc = HH_EOVERFLOW;
        return;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n) {
            if (nc > SIZE_MAX / 2) {
                b->rc = HH_EOVERFLOW;
                return;
            }
            nc *= 2;
        }
        uint8_t *q = realloc(b->p, nc);
        if (q == NULL) {
            b->rc = HH_ENOMEM;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_le(wbuf_t *b, uint64_t v, size_t n)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    put(b, tmp, n);
}

static void put_str(wbuf_t *b, const char *s, uint64_t len)
{
    put_le(b, len, 8);
    put(b, s, (size_t)len);
}

static void put_scalar(wbuf_t *b, const hh_gguf_value_t *v)
{
    size_t sz = hh_gguf_vtype_size(v->type);
    switch (v->type) {
    case HH_GGUF_F32: {
        float f = (float)v->v.f;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        put_le(b, bits, 4);
        break;
    }
    case HH_GGUF_F64: {
        uint64_t bits;
        memcpy(&bits, &v->v.f, 8);
        put_le(b, bits, 8);
        break;
    }
    case HH_GGUF_I8: case HH_GGUF_I16: case HH_GGUF_I32: case HH_GGUF_I64:
        put_le(b, (uint64_t)v->v.i, sz);
        break;
    default:
        put_le(b, v->v.u, sz);
        break;
    }
}

/* Writes the array body (element type, count, elements). */
static void put_array(wbuf_t *b, const hh_gguf_value_t *v)
{
    hh_gguf_vtype_t et = v->v.arr.elem;
    uint64_t n = v->v.arr.n;
    put_le(b, (uint32_t)et, 4);
    put_le(b, n, 8);
    if (et == HH_GGUF_STR) {
        for (uint64_t i = 0; i < n; i++)
            put_str(b, v->v.arr.strs[i], v->v.arr.str_lens[i]);
    } else if (et == HH_GGUF_ARR) {
        for (uint64_t i = 0; i < n; i++)
            put_array(b, &v->v.arr.items[i]);
    } else {
        /* Elements were copied as packed little-endian bytes. */
        put(b, v->v.arr.data, (size_t)(n * hh_gguf_vtype_size(et)));
    }
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

/* Serializes header, metadata and tensor infos padded to the data section;
 * sets each tensor's offset and *data_bytes (padded total). */
static int layout(hh_gguf_writer_t *w, wbuf_t *b, uint64_t *data_bytes, hh_err_t *err)
{
    for (int64_t i = 0; i < w->n_kv; i++) {
        const hh_gguf_value_t *v = &w->kv[i].val;
        if (strcmp(w->kv[i].key, "general.alignment") == 0 &&
            (v->type != HH_GGUF_U32 || v->v.u != w->alignment))
            return hh_err_set(err, HH_EINVAL, -1,
                              "general.alignment is set to a value other than the writer's alignment %llu",
                              (unsigned long long)w->alignment);
    }
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        if (w->t[i].nbytes > UINT64_MAX / 2 - off)
            return hh_err_set(err, HH_EOVERFLOW, -1, "tensor data too large");
        off = align_up(off + w->t[i].nbytes, w->alignment);
    }
    *data_bytes = off;

    put(b, HH_GGUF_MAGIC, 4);
    put_le(b, w->version, 4);
    put_le(b, (uint64_t)w->n_t, 8);
    put_le(b, (uint64_t)w->n_kv, 8);
    for (int64_t i = 0; i < w->n_kv; i++) {
        const hh_gguf_value_t *v = &w->kv[i].val;
        put_str(b, w->kv[i].key, strlen(w->kv[i].key));
        put_le(b, (uint32_t)v->type, 4);
        if (v->type == HH_GGUF_STR)
            put_str(b, v->v.str.s, v->v.str.len);
        else if (v->type == HH_GGUF_ARR)
            put_array(b, v);
        else
            put_scalar(b, v);
    }
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor_t *t = &w->t[i];
        put_str(b, t->name, strlen(t->name));
        put_le(b, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_le(b, (uint64_t)t->ne[d], 8);
        put_le(b, t->type, 4);
        put_le(b, t->offset, 8);
    }
    static const uint8_t zeros[64];
    size_t pad = (size_t)(align_up(b->len, w->alignment) - b->len);
    while (pad && !b->rc) {
        size_t k = pad < sizeof zeros ? pad : sizeof zeros;
        put(b, zeros, k);
        pad -= k;
    }
    if (b->rc)
        return hh_err_set(err, b->rc, -1, "serializing GGUF metadata: %s", hh_strerror(b->rc));
    return HH_OK;
}

/* Produces tensor i's bytes into dst. */
static int produce(const wtensor_t *t, void *dst, hh_err_t *err)
{
    if (t->data) {
        memcpy(dst, t->data, t->nbytes);
        return HH_OK;
    }
    int rc = t->fill(t->fill_ctx, t->name, dst, t->nbytes, err);
    if (rc && err && err->code == HH_OK)
        hh_err_set(err, rc, -1, "producing tensor '%s' failed", t->name);
    return rc;
}

int hh_gguf_writer_write_memory(hh_gguf_writer_t *w, void **out, size_t *size, hh_err_t *err)
{
    hh_err_clear(err);
    if (w == NULL || out == NULL || size == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "hh_gguf_writer_write_memory: NULL argument");
    *out = NULL;
    *size = 0;
    wbuf_t b = { 0 };
    uint64_t data_bytes;
    uint8_t *img = NULL;
    int rc = layout(w, &b, &data_bytes, err);
    if (rc)
        goto cleanup;
    if (data_bytes > SIZE_MAX - b.len) {
        rc = hh_err_set(err, HH_EOVERFLOW, -1, "GGUF image too large for memory");
        goto cleanup;
    }
    size_t total = b.len + (size_t)data_bytes;
    img = calloc(1, total ? total : 1);
    if (img == NULL) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "cannot allocate %zu bytes for the GGUF image", total);
        goto cleanup;
    }
    memcpy(img, b.p, b.len);
    for (int64_t i = 0; i < w->n_t; i++) {
        if ((rc = produce(&w->t[i], img + b.len + w->t[i].offset, err)))
            goto cleanup;
    }
    *out = img;
    *size = total;
    img = NULL;
    rc = HH_OK;
cleanup:
    free(img);
    free(b.p);
    return rc;
}

static int write_all(int fd, const void *p, size_t n, const char *path, hh_err_t *err)
{
    const uint8_t *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return hh_err_set(err, HH_EIO, -1, "%s: write failed: %s", path, strerror(errno));
        c += k;
        n -= (size_t)k;
    }
    return HH_OK;
}

int hh_gguf_writer_write(hh_gguf_writer_t *w, const char *path, hh_err_t *err)
{
    hh_err_clear(err);
    if (w == NULL || path == NULL)
        return hh_err_set(err, HH_EINVAL, -1, "hh_gguf_writer_write: NULL argument");
    wbuf_t b = { 0 };
    uint64_t data_bytes;
    char *tmp = NULL;
    uint8_t *scratch = NULL;
    int fd = -1;
    int rc = layout(w, &b, &data_bytes, err);
    if (rc)
        goto cleanup;
    size_t plen = strlen(path);
    tmp = malloc(plen + 16);
    if (tmp == NULL) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "out of memory");
        goto cleanup;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = hh_err_set(err, HH_EIO, -1, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto cleanup;
    }
    (void)fchmod(fd, 0644);
    if ((rc = write_all(fd, b.p, b.len, path, err)))
        goto cleanup;
    size_t max = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        if (w->t[i].fill && w->t[i].nbytes > max)
            max = w->t[i].nbytes;
    }
    if (max) {
        scratch = malloc(max);
        if (scratch == NULL) {
            rc = hh_err_set(err, HH_ENOMEM, -1, "cannot allocate %zu bytes for a tensor", max);
            goto cleanup;
        }
    }
    static const uint8_t zeros[64];
    uint64_t pos = 0;   /* within the data section */
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor_t *t = &w->t[i];
        const void *src = t->data;
        if (t->fill) {
            if ((rc = produce(t, scratch, err)))
                goto cleanup;
            src = scratch;
        }
        if ((rc = write_all(fd, src, t->nbytes, path, err)))
            goto cleanup;
        pos += t->nbytes;
        uint64_t end = i + 1 < w->n_t ? w->t[i + 1].offset : data_bytes;
        while (pos < end) {
            size_t k = end - pos < sizeof zeros ? (size_t)(end - pos) : sizeof zeros;
            if ((rc = write_all(fd, zeros, k, path, err)))
                goto cleanup;
            pos += k;
        }
    }
    if (fsync(fd) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "%s: fsync failed: %s", path, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = hh_err_set(err, HH_EIO, -1, "%s: close failed: %s", path, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = hh_err_set(err, HH_EIO, -1, "%s: rename failed: %s", path, strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    rc = HH_OK;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(scratch);
    free(b.p);
    return rc;
}
