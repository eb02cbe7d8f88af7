/* gguf.h - GGUF reader (versions 2 and 3) and writer.
 *
 * The reader parses the header, every metadata value (all scalar types,
 * strings, arrays, nested arrays) and the tensor table, checking every
 * untrusted count, length, offset and dimension product against the file
 * size before use. Errors name the field and its byte offset. Tensor data is
 * memory-mapped (default) or read into ordinary memory (optionally mlocked),
 * because some kernels evict cold mmapped pages even while they are in use. */
#ifndef HH_GGUF_GGUF_H
#define HH_GGUF_GGUF_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HH_GGUF_MAX_DIMS 4
#define HH_GGUF_DEFAULT_ALIGNMENT 32

typedef enum hh_gguf_vtype {
    HH_GGUF_U8 = 0, HH_GGUF_I8 = 1, HH_GGUF_U16 = 2, HH_GGUF_I16 = 3,
    HH_GGUF_U32 = 4, HH_GGUF_I32 = 5, HH_GGUF_F32 = 6, HH_GGUF_BOOL = 7,
    HH_GGUF_STR = 8, HH_GGUF_ARR = 9, HH_GGUF_U64 = 10, HH_GGUF_I64 = 11,
    HH_GGUF_F64 = 12,
    HH_GGUF_VTYPE_COUNT
} hh_gguf_vtype_t;

/* A parsed metadata value. Strings are NUL-terminated copies (len excludes
 * the NUL; GGUF strings may contain NUL bytes, len is authoritative). */
typedef struct hh_gguf_value hh_gguf_value_t;
struct hh_gguf_value {
    hh_gguf_vtype_t type;
    union {
        uint64_t u;          /* U8, U16, U32, U64, BOOL (0/1) */
        int64_t  i;          /* I8, I16, I32, I64 */
        double   f;          /* F32, F64 */
        struct { const char *s; uint64_t len; } str;
        struct {
            hh_gguf_vtype_t elem;   /* element type */
            uint64_t        n;      /* element count */
            /* Numeric / BOOL elements: packed little-endian values as in the
             * file (elem size each), aligned for their type. */
            const void     *data;
            /* STR elements: n NUL-terminated strings, lengths in str_lens. */
            const char *const *strs;
            const uint64_t    *str_lens;
            /* ARR elements (nested arrays): n values of type ARR. */
            const hh_gguf_value_t *items;
        } arr;
    } v;
};

typedef struct hh_gguf_tensor {
    const char *name;                 /* NUL-terminated */
    uint32_t    type;                 /* hh_type_t id (kernels/quant.h) */
    uint32_t    n_dims;               /* 1..4 */
    int64_t     ne[HH_GGUF_MAX_DIMS]; /* ne[0] = row length (innermost); unused dims are 1 */
    uint64_t    offset;               /* from the start of the data section */
    size_t      nbytes;               /* checked: rows * row size */
    const void *data;                 /* into the mapped / loaded file; NULL if opened with no_data */
} hh_gguf_tensor_t;

typedef enum hh_gguf_load {
    HH_GGUF_LOAD_MMAP = 0,   /* map the file read-only (pages shared with the page cache) */
    HH_GGUF_LOAD_READ = 1,   /* read the tensor data into anonymous memory */
} hh_gguf_load_t;

typedef struct hh_gguf_params {
    hh_gguf_load_t load;     /* default HH_GGUF_LOAD_MMAP */
    bool           mlock;    /* lock the tensor data in memory (warns, does not fail, if refused) */
    bool           no_data;  /* metadata only: do not map or read tensor data */
} hh_gguf_params_t;

typedef struct hh_gguf hh_gguf_t;

hh_gguf_params_t hh_gguf_default_params(void);

/* Opens and validates a GGUF file. params may be NULL (defaults). On success
 * the caller owns *out (free with hh_gguf_close); every string, value and
 * tensor record belongs to the handle and lives until hh_gguf_close.
 *
 * Errors (err->msg names the field, err->pos its byte offset where known):
 *   HH_ETRUNC       a count, length, offset or size runs past the end of the
 *                   file (every truncation of a valid file gives this)
 *   HH_EFORMAT      bad magic, unknown value type, empty / duplicate key or
 *                   tensor name, arrays nested deeper than 8, n_dims outside
 *                   1..4, a dimension < 1 (empty tensors are refused), row
 *                   length not a multiple of the block size, general.alignment
 *                   not a u32 nonzero power of two, misaligned or overlapping
 *                   tensors
 *   HH_EOVERFLOW    element count or byte size of a tensor overflows
 *   HH_EUNSUPPORTED GGUF version other than 2 / 3, big-endian file, unknown
 *                   tensor type id (message lists the computable types).
 *                   Known types hoheit cannot compute (iq*, tq*) parse; the
 *                   model loader refuses them.
 *   HH_ENOENT / HH_EIO / HH_ENOMEM  file missing, unreadable, no memory.
 * Limits: keys <= 65535 bytes, tensor names <= 255 bytes. Memory used for
 * metadata is bounded by a small multiple of the file size. */
int hh_gguf_open(hh_gguf_t **out, const char *path, const hh_gguf_params_t *params, hh_err_t *err);

/* Parses a GGUF image in memory (fuzzing, tests). data must outlive the
 * handle; tensor data pointers point into it. */
int hh_gguf_open_memory(hh_gguf_t **out, const void *data, size_t size, hh_err_t *err);

void hh_gguf_close(hh_gguf_t *g);

uint32_t hh_gguf_version(const hh_gguf_t *g);
uint64_t hh_gguf_file_size(const hh_gguf_t *g);
uint64_t hh_gguf_alignment(const hh_gguf_t *g);
uint64_t hh_gguf_data_offset(const hh_gguf_t *g);   /* byte offset of the data section */

/* Metadata */
int64_t                hh_gguf_n_kv(const hh_gguf_t *g);
const char            *hh_gguf_kv_key(const hh_gguf_t *g, int64_t i);
const hh_gguf_value_t *hh_gguf_kv_value(const hh_gguf_t *g, int64_t i);
int64_t                hh_gguf_find_kv(const hh_gguf_t *g, const char *key);   /* -1 if absent */
const hh_gguf_value_t *hh_gguf_get(const hh_gguf_t *g, const char *key);       /* NULL if absent */

/* Typed getters. Return HH_OK, HH_ENOENT if the key is absent, HH_EFORMAT if
 * the value has another type or does not fit (integers convert between
 * widths when the value fits; floats accept F32 and F64). */
int hh_gguf_get_u32(const hh_gguf_t *g, const char *key, uint32_t *out);
int hh_gguf_get_i64(const hh_gguf_t *g, const char *key, int64_t *out);
int hh_gguf_get_f32(const hh_gguf_t *g, const char *key, float *out);
int hh_gguf_get_bool(const hh_gguf_t *g, const char *key, bool *out);
int hh_gguf_get_str(const hh_gguf_t *g, const char *key, const char **out);
/* Array of the given element type; *n and the value (for data/strs). */
int hh_gguf_get_arr(const hh_gguf_t *g, const char *key, hh_gguf_vtype_t elem, const hh_gguf_value_t **out);

/* Tensors */
int64_t                 hh_gguf_n_tensors(const hh_gguf_t *g);
const hh_gguf_tensor_t *hh_gguf_tensor(const hh_gguf_t *g, int64_t i);
const hh_gguf_tensor_t *hh_gguf_find_tensor(const hh_gguf_t *g, const char *name);  /* NULL if absent */

const char *hh_gguf_vtype_name(hh_gguf_vtype_t t);

/* Writer. Keys and tensors are written in the order added. Each tensor's
 * data starts at an offset aligned to the writer's alignment and is padded
 * to it (the file ends after the last tensor's padding). */
typedef struct hh_gguf_writer hh_gguf_writer_t;

/* Produces a tensor's bytes at write time (streaming: quantize does not hold
 * every output tensor in memory). Writes exactly nbytes into dst. */
typedef int (*hh_gguf_fill_fn)(void *ctx, const char *name, void *dst, size_t nbytes, hh_err_t *err);

/* version 0 = 3 (2 and 3 accepted), alignment 0 = 32 (a power of two). A
 * non-default alignment also adds the general.alignment key. HH_EINVAL on
 * bad arguments. The caller owns *out (free with hh_gguf_writer_free). */
int  hh_gguf_writer_create(hh_gguf_writer_t **out, uint32_t version, uint64_t alignment);
void hh_gguf_writer_free(hh_gguf_writer_t *w);
/* Typed setters. Setting an existing key replaces its value in place. Keys
 * and strings are copied. HH_EINVAL on an empty key, HH_ENOMEM. */
int  hh_gguf_writer_set_u32(hh_gguf_writer_t *w, const char *key, uint32_t v);
int  hh_gguf_writer_set_i32(hh_gguf_writer_t *w, const char *key, int32_t v);
int  hh_gguf_writer_set_u64(hh_gguf_writer_t *w, const char *key, uint64_t v);
int  hh_gguf_writer_set_f32(hh_gguf_writer_t *w, const char *key, float v);
int  hh_gguf_writer_set_bool(hh_gguf_writer_t *w, const char *key, bool v);
int  hh_gguf_writer_set_str(hh_gguf_writer_t *w, const char *key, const char *v);
/* Sets key to a deep copy of a parsed value (any type, nested arrays too). */
int  hh_gguf_writer_set_value(hh_gguf_writer_t *w, const char *key, const hh_gguf_value_t *v);
/* data is referenced, not copied, and must stay valid until write. Either
 * data or fill (with fill_ctx) is given. HH_EINVAL for an unknown type,
 * n_dims outside 1..4, a dim < 1, a row not a multiple of the block size, a
 * duplicate name; HH_EOVERFLOW when the size does not fit. */
int  hh_gguf_writer_add_tensor(hh_gguf_writer_t *w, const char *name, uint32_t type,
                               uint32_t n_dims, const int64_t *ne,
                               const void *data, hh_gguf_fill_fn fill, void *fill_ctx);
/* Writes to path atomically (temporary file in the same directory, fsync,
 * rename); on failure path is untouched and no temporary file remains. A
 * fill callback's error code and message are passed through. HH_EINVAL if a
 * general.alignment key disagrees with the writer's alignment. */
int  hh_gguf_writer_write(hh_gguf_writer_t *w, const char *path, hh_err_t *err);
/* Serializes to a malloc'd buffer (tests, fuzz seeds); caller frees *out. */
int  hh_gguf_writer_write_memory(hh_gguf_writer_t *w, void **out, size_t *size, hh_err_t *err);

#endif
