/* gguf_int.h - private to src/gguf/: the bump arena that owns parsed and
 * copied metadata, and format constants shared by the reader and writer. */
#ifndef HH_GGUF_GGUF_INT_H
#define HH_GGUF_GGUF_INT_H

#include "gguf/gguf.h"

#include <stddef.h>
#include <stdint.h>

#define HH_GGUF_MAGIC "GGUF"
/* Deepest array-of-array nesting accepted (a top-level array is depth 1). */
#define HH_GGUF_MAX_ARRAY_DEPTH 8
/* Longest key and tensor name accepted (bytes, excluding the NUL). */
#define HH_GGUF_MAX_KEY_LEN  65535
#define HH_GGUF_MAX_NAME_LEN 255

/* A chunked bump allocator. Everything allocated from it is freed at once
 * by hh_gguf_arena_free; pointers stay valid until then. */
typedef struct hh_gguf_arena_chunk hh_gguf_arena_chunk_t;
typedef struct hh_gguf_arena {
    hh_gguf_arena_chunk_t *head;
} hh_gguf_arena_t;

/* size bytes aligned to 16, zeroed; NULL when out of memory or on size
 * overflow. size 0 returns a valid unique pointer. */
void *hh_gguf_arena_alloc(hh_gguf_arena_t *a, size_t size);
/* Copy of len bytes plus a terminating NUL; NULL when out of memory. */
char *hh_gguf_arena_strndup(hh_gguf_arena_t *a, const char *s, size_t len);
void  hh_gguf_arena_free(hh_gguf_arena_t *a);

/* Bytes one element of a fixed-size type takes in the file; 0 for STR/ARR
 * and unknown types. */
size_t hh_gguf_vtype_size(hh_gguf_vtype_t t);

#endif
