/* test_gguf.c - GGUF reader and writer: the shared test models read back
 * with the values their PROVENANCE/README state, writer round trips (every
 * metadata type, nested arrays, several tensor types, v2, alignment 64,
 * file and memory, mmap and read+mlock), and hand-made corrupt images that
 * must each fail with a specific code and message. */
#include "harness.h"

#include "gguf/gguf.h"
#include "kernels/quant.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- byte builder for hand-made images ----------------------------- */

typedef struct img {
    uint8_t *p;
    size_t   len, cap;
} img_t;

static void img_put(img_t *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *q = realloc(b->p, nc);
        if (q == NULL) {
            fprintf(stderr, "test_gguf: out of memory\n");
            exit(2);
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void img_le(img_t *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    img_put(b, t, (size_t)n);
}

static void img_u32(img_t *b, uint32_t v) { img_le(b, v, 4); }
static void img_u64(img_t *b, uint64_t v) { img_le(b, v, 8); }

static void img_str(img_t *b, const char *s)
{
    img_u64(b, strlen(s));
    img_put(b, s, strlen(s));
}

static void img_pad(img_t *b, size_t align)
{
    static const uint8_t z[64];
    while (b->len % align)
        img_put(b, z, 1);
}

static void img_zeros(img_t *b, size_t n)
{
    static const uint8_t z[256];
    while (n) {
        size_t k = n < sizeof z ? n : sizeof z;
        img_put(b, z, k);
        n -= k;
    }
}

static void img_header(img_t *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    img_put(b, "GGUF", 4);
    img_u32(b, version);
    img_u64(b, n_tensors);
    img_u64(b, n_kv);
}

/* A kv with a string value. */
static void img_kv_str(img_t *b, const char *key, const char *val)
{
    img_str(b, key);
    img_u32(b, HH_GGUF_STR);
    img_str(b, val);
}

typedef struct tinfo {
    const char *name;
    uint32_t    n_dims;
    uint64_t    ne[5];
    uint32_t    type;
    uint64_t    offset;
} tinfo_t;

static void img_tinfo(img_t *b, const tinfo_t *t)
{
    img_str(b, t->name);
    img_u32(b, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++)
        img_u64(b, t->ne[d]);
    img_u32(b, t->type);
    img_u64(b, t->offset);
}

/* v3 image: one kv (general.architecture) + the given tensor infos, padded
 * to 32, then data_bytes zero bytes of tensor data. */
static void build_tensors(img_t *b, const tinfo_t *t, int n, size_t data_bytes)
{
    img_header(b, 3, (uint64_t)n, 1);
    img_kv_str(b, "general.architecture", "llama");
    for (int i = 0; i < n; i++)
        img_tinfo(b, &t[i]);
    img_pad(b, 32);
    img_zeros(b, data_bytes);
}

/* Opens an exact-size heap copy (so ASan sees any over-read) and checks the
 * error code, message substring and (pos >= -1) byte position. */
static bool expect_fail(const img_t *b, size_t len, int code, const char *sub, int64_t pos,
                        const char *file, int line)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, b->p, len);
    hh_gguf_t *g = NULL;
    hh_err_t err;
    int rc = hh_gguf_open_memory(&g, copy, len, &err);
    bool ok = true;
    if (rc != code) {
        hh_test_fail(file, line, "open of %zu bytes: expected code %d (%s), got %d (%s): %s", len, code,
                     hh_strerror(code), rc, hh_strerror(rc), rc ? err.msg : "(success)");
        ok = false;
    } else if (sub && strstr(err.msg, sub) == NULL) {
        hh_test_fail(file, line, "error message: expected to contain \"%s\", got \"%s\"", sub, err.msg);
        ok = false;
    } else if (pos >= -1 && err.pos != pos) {
        hh_test_fail(file, line, "error pos: expected %lld, got %lld (%s)", (long long)pos,
                     (long long)err.pos, err.msg);
        ok = false;
    }
    hh_gguf_close(g);
    free(copy);
    return ok;
}

#define EXPECT_FAIL(b, code, sub, pos) \
    do { if (!expect_fail((b), (b)->len, (code), (sub), (pos), __FILE__, __LINE__)) { free((b)->p); return; } } while (0)
#define NOPOS (-2)

/* ---- shared test data ---------------------------------------------- */

TEST(gguf_stories260K)
{
    hh_gguf_t *g = NULL;
    hh_err_t err;
    const char *path = hh_test_data_path("models/stories260K.gguf");
    int rc = hh_gguf_open(&g, path, NULL, &err);
    if (rc)
        hh_test_fail(__FILE__, __LINE__, "open %s: %s", path, err.msg);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(hh_gguf_version(g), 3);
    ASSERT_EQ_INT(hh_gguf_n_tensors(g), 48);
    ASSERT_EQ_INT(hh_gguf_n_kv(g), 18);
    ASSERT_EQ_INT(hh_gguf_file_size(g), 1185312);
    ASSERT_EQ_INT(hh_gguf_data_offset(g), 14112);
    ASSERT_EQ_INT(hh_gguf_alignment(g), 32);
    const char *s = NULL;
    ASSERT_OK(hh_gguf_get_str(g, "general.architecture", &s));
    ASSERT_STREQ(s, "llama");
    ASSERT_OK(hh_gguf_get_str(g, "general.name", &s));
    ASSERT_STREQ(s, "stories260K");
    ASSERT_STREQ(hh_gguf_kv_key(g, 0), "general.architecture");
    uint32_t u;
    ASSERT_OK(hh_gguf_get_u32(g, "llama.context_length", &u));
    ASSERT_EQ_INT(u, 512);
    ASSERT_OK(hh_gguf_get_u32(g, "llama.embedding_length", &u));
    ASSERT_EQ_INT(u, 64);
    ASSERT_OK(hh_gguf_get_u32(g, "llama.feed_forward_length", &u));
    ASSERT_EQ_INT(u, 172);
    ASSERT_OK(hh_gguf_get_u32(g, "llama.block_count", &u));
    ASSERT_EQ_INT(u, 5);
    ASSERT_OK(hh_gguf_get_u32(g, "llama.attention.head_count_kv", &u));
    ASSERT_EQ_INT(u, 4);
    ASSERT_OK(hh_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u));
    ASSERT_EQ_INT(u, 2);
    float f;
    ASSERT_OK(hh_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f));
    ASSERT_NEAR(f, 1e-5, 1e-12);
    const hh_gguf_value_t *toks = NULL;
    ASSERT_OK(hh_gguf_get_arr(g, "tokenizer.ggml.tokens", HH_GGUF_STR, &toks));
    ASSERT_EQ_INT(toks->v.arr.n, 512);
    ASSERT_STREQ(toks->v.arr.strs[0], "<unk>");
    ASSERT_STREQ(toks->v.arr.strs[1], "<s>");
    ASSERT_STREQ(toks->v.arr.strs[3], "<0x00>");
    ASSERT_EQ_INT(toks->v.arr.str_lens[3], 6);
    const hh_gguf_value_t *tt = NULL;
    ASSERT_OK(hh_gguf_get_arr(g, "tokenizer.ggml.token_type", HH_GGUF_I32, &tt));
    const int32_t *ti = tt->v.arr.data;
    ASSERT_EQ_INT(ti[0], 2);
    ASSERT_EQ_INT(ti[1], 3);
    ASSERT_EQ_INT(ti[3], 6);
    ASSERT_EQ_INT(hh_gguf_get_arr(g, "tokenizer.ggml.token_type", HH_GGUF_U32, &tt), HH_EFORMAT);

    const hh_gguf_tensor_t *t = hh_gguf_tensor(g, 0);
    ASSERT_STREQ(t->name, "token_embd.weight");
    ASSERT_EQ_INT(t->type, HH_TYPE_F32);
    ASSERT_EQ_INT(t->n_dims, 2);
    ASSERT_EQ_INT(t->ne[0], 64);
    ASSERT_EQ_INT(t->ne[1], 512);
    ASSERT_EQ_INT(t->ne[2], 1);
    ASSERT_EQ_INT(t->offset, 0);
    ASSERT_EQ_INT(t->nbytes, 64 * 512 * 4);
    t = hh_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(t->ne[0], 172);
    ASSERT_EQ_INT(t->ne[1], 64);
    ASSERT_EQ_INT(t->offset, 356096);
    t = hh_gguf_find_tensor(g, "output_norm.weight");
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(t->offset, 131072);
    ASSERT_EQ_INT(t->n_dims, 1);
    ASSERT_TRUE(hh_gguf_find_tensor(g, "blk.9.ffn_down.weight") == NULL);
    ASSERT_TRUE(hh_gguf_get(g, "llama.nope") == NULL);
    ASSERT_EQ_INT(hh_gguf_get_u32(g, "llama.nope", &u), HH_ENOENT);
    ASSERT_EQ_INT(hh_gguf_get_u32(g, "general.name", &u), HH_EFORMAT);

    /* Mapped data equals the file bytes at data_offset + offset. */
    size_t size = 0;
    uint8_t *raw = hh_test_read_file(path, &size);
    ASSERT_TRUE(raw != NULL);
    ASSERT_EQ_INT(size, 1185312);
    for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++) {
        t = hh_gguf_tensor(g, i);
        if (memcmp(t->data, raw + 14112 + t->offset, t->nbytes) != 0) {
            hh_test_fail(__FILE__, __LINE__, "tensor %s data differs from the file", t->name);
            break;
        }
    }
    /* READ mode with mlock gives the same bytes. */
    hh_gguf_t *g2 = NULL;
    hh_gguf_params_t p = hh_gguf_default_params();
    p.load = HH_GGUF_LOAD_READ;
    p.mlock = true;
    ASSERT_OK(hh_gguf_open(&g2, path, &p, &err));
    for (int64_t i = 0; i < hh_gguf_n_tensors(g2); i++) {
        const hh_gguf_tensor_t *a = hh_gguf_tensor(g, i), *b = hh_gguf_tensor(g2, i);
        if (a->data == b->data || memcmp(a->data, b->data, a->nbytes) != 0) {
            hh_test_fail(__FILE__, __LINE__, "tensor %s: READ copy differs or aliases the map", a->name);
            break;
        }
    }
    hh_gguf_close(g2);
    p = hh_gguf_default_params();
    p.no_data = true;
    ASSERT_OK(hh_gguf_open(&g2, path, &p, &err));
    ASSERT_TRUE(hh_gguf_tensor(g2, 5)->data == NULL);
    ASSERT_EQ_INT(hh_gguf_tensor(g2, 5)->offset, hh_gguf_tensor(g, 5)->offset);
    hh_gguf_close(g2);
    free(raw);
    hh_gguf_close(g);
}

TEST(gguf_tiny_random)
{
    hh_gguf_t *g = NULL;
    hh_err_t err;
    ASSERT_OK(hh_gguf_open(&g, hh_test_data_path("models/llama-2-tiny-random.gguf"), NULL, &err));
    ASSERT_EQ_INT(hh_gguf_n_tensors(g), 12);
    ASSERT_EQ_INT(hh_gguf_n_kv(g), 18);
    ASSERT_EQ_INT(hh_gguf_file_size(g), 1750560);
    ASSERT_EQ_INT(hh_gguf_data_offset(g), 724416);
    const char *s;
    ASSERT_OK(hh_gguf_get_str(g, "general.name", &s));
    ASSERT_STREQ(s, "LLaMA v2");
    int64_t ctx;
    ASSERT_OK(hh_gguf_get_i64(g, "llama.context_length", &ctx));
    ASSERT_EQ_INT(ctx, 4096);
    const hh_gguf_value_t *v;
    ASSERT_OK(hh_gguf_get_arr(g, "tokenizer.ggml.tokens", HH_GGUF_STR, &v));
    ASSERT_EQ_INT(v->v.arr.n, 32000);
    ASSERT_OK(hh_gguf_get_arr(g, "tokenizer.ggml.scores", HH_GGUF_F32, &v));
    ASSERT_EQ_INT(v->v.arr.n, 32000);
    const hh_gguf_tensor_t *t = hh_gguf_find_tensor(g, "token_embd.weight");
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(t->type, HH_TYPE_F16);
    ASSERT_EQ_INT(t->ne[0], 8);
    ASSERT_EQ_INT(t->ne[1], 32000);
    ASSERT_EQ_INT(t->nbytes, 512000);
    t = hh_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    ASSERT_EQ_INT(t->offset, 513536);
    ASSERT_EQ_INT(t->ne[0], 32);
    t = hh_gguf_find_tensor(g, "output.weight");
    ASSERT_EQ_INT(t->offset, 514144);
    ASSERT_EQ_INT(hh_gguf_find_tensor(g, "output_norm.weight")->type, HH_TYPE_F32);
    hh_gguf_close(g);
}

/* Every reference model: tensor names and types equal its tokens.json
 * tensor_types, the tokenizer size its n_vocab, and the data section ends
 * at the file's end (after the last tensor's padding). */
TEST(gguf_reference_models)
{
    const char *dir = hh_test_data_path("reference");
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s", dir);
    DIR *d = opendir(dirpath);
    ASSERT_TRUE(d != NULL);
    int n_files = 0, n_seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".gguf") != 0)
            continue;
        n_seen++;
        char path[4352], jpath[4352];
        snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
        snprintf(jpath, sizeof jpath, "%s/%.*s.tokens.json", dirpath, (int)(l - 5), e->d_name);
        hh_gguf_t *g = NULL;
        hh_err_t err;
        hh_gguf_params_t p = hh_gguf_default_params();
        p.no_data = true;
        int rc = hh_gguf_open(&g, path, &p, &err);
        if (rc) {
            hh_test_fail(__FILE__, __LINE__, "%s: %s", e->d_name, err.msg);
            break;
        }
        char *js = hh_test_read_file(jpath, NULL);
        cJSON *j = js ? cJSON_Parse(js) : NULL;
        free(js);
        cJSON *types = cJSON_GetObjectItemCaseSensitive(j, "tensor_types");
        if (!cJSON_IsObject(types)) {
            hh_test_fail(__FILE__, __LINE__, "%s: no tensor_types", jpath);
            cJSON_Delete(j);
            hh_gguf_close(g);
            break;
        }
        bool bad = false;
        if (cJSON_GetArraySize(types) != hh_gguf_n_tensors(g)) {
            hh_test_fail(__FILE__, __LINE__, "%s: expected %d tensors, got %lld", e->d_name,
                         cJSON_GetArraySize(types), (long long)hh_gguf_n_tensors(g));
            bad = true;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, types) {
            const hh_gguf_tensor_t *t = hh_gguf_find_tensor(g, it->string);
            if (t == NULL || !cJSON_IsString(it) || hh_type_from_name(it->valuestring) != (int)t->type) {
                hh_test_fail(__FILE__, __LINE__, "%s: tensor %s: expected type %s, got %s", e->d_name,
                             it->string, cJSON_IsString(it) ? it->valuestring : "?",
                             t ? hh_type_name(t->type) : "(missing)");
                bad = true;
                break;
            }
        }
        /* README: n_vocab 512, bert 30522 (the bert JSON has no n_vocab). */
        const hh_gguf_value_t *toks;
        const cJSON *nv = cJSON_GetObjectItemCaseSensitive(j, "n_vocab");
        const char *arch = "";
        hh_gguf_get_str(g, "general.architecture", &arch);
        double want_vocab = cJSON_IsNumber(nv) ? nv->valuedouble : strcmp(arch, "bert") == 0 ? 30522 : -1;
        if (hh_gguf_get_arr(g, "tokenizer.ggml.tokens", HH_GGUF_STR, &toks) != 0 ||
            (double)toks->v.arr.n != want_vocab) {
            hh_test_fail(__FILE__, __LINE__, "%s: vocab size differs from %g", e->d_name, want_vocab);
            bad = true;
        }
        /* source dims: n_embd, n_layer, n_head against <arch>.* keys */
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
        const char *dims[3][2] = { { "n_embd", "embedding_length" }, { "n_layer", "block_count" },
                                   { "n_head", "attention.head_count" } };
        for (int k = 0; k < 3 && !bad; k++) {
            const cJSON *jv = cJSON_GetObjectItemCaseSensitive(src, dims[k][0]);
            char key[128];
            snprintf(key, sizeof key, "%s.%s", arch, dims[k][1]);
            uint32_t u = 0;
            if (!cJSON_IsNumber(jv) || hh_gguf_get_u32(g, key, &u) != 0 || (double)u != jv->valuedouble) {
                hh_test_fail(__FILE__, __LINE__, "%s: %s = %u, source %s = %g", e->d_name, key, u,
                             dims[k][0], cJSON_IsNumber(jv) ? jv->valuedouble : -1.0);
                bad = true;
            }
        }
        uint64_t end = 0;
        for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++) {
            const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
            uint64_t te = (t->offset + t->nbytes + 31) / 32 * 32;
            if (te > end)
                end = te;
        }
        if (hh_gguf_data_offset(g) + end != hh_gguf_file_size(g)) {
            hh_test_fail(__FILE__, __LINE__, "%s: data ends at %llu, file size %llu", e->d_name,
                         (unsigned long long)(hh_gguf_data_offset(g) + end),
                         (unsigned long long)hh_gguf_file_size(g));
            bad = true;
        }
        cJSON_Delete(j);
        hh_gguf_close(g);
        if (bad)
            break;
        n_files++;
    }
    closedir(d);
    /* every model file there passed (22 in the first set; the data grows with
     * new architectures, which the reader must parse before the engine runs them) */
    ASSERT_EQ_INT(n_files, n_seen);
    ASSERT_GE(n_files, 22);
}

/* ---- writer round trip --------------------------------------------- */

static bool value_eq(const hh_gguf_value_t *a, const hh_gguf_value_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case HH_GGUF_STR:
        return a->v.str.len == b->v.str.len && memcmp(a->v.str.s, b->v.str.s, a->v.str.len) == 0 &&
               b->v.str.s[b->v.str.len] == '\0';
    case HH_GGUF_F32: case HH_GGUF_F64:
        return a->v.f == b->v.f;
    case HH_GGUF_I8: case HH_GGUF_I16: case HH_GGUF_I32: case HH_GGUF_I64:
        return a->v.i == b->v.i;
    case HH_GGUF_ARR:
        if (a->v.arr.elem != b->v.arr.elem || a->v.arr.n != b->v.arr.n)
            return false;
        for (uint64_t i = 0; i < a->v.arr.n; i++) {
            if (a->v.arr.elem == HH_GGUF_STR) {
                if (a->v.arr.str_lens[i] != b->v.arr.str_lens[i] ||
                    memcmp(a->v.arr.strs[i], b->v.arr.strs[i], a->v.arr.str_lens[i]) != 0)
                    return false;
            } else if (a->v.arr.elem == HH_GGUF_ARR) {
                if (!value_eq(&a->v.arr.items[i], &b->v.arr.items[i]))
                    return false;
            }
        }
        if (a->v.arr.elem != HH_GGUF_STR && a->v.arr.elem != HH_GGUF_ARR) {
            size_t es = a->v.arr.elem == HH_GGUF_U8 || a->v.arr.elem == HH_GGUF_I8 || a->v.arr.elem == HH_GGUF_BOOL ? 1
                      : a->v.arr.elem == HH_GGUF_U16 || a->v.arr.elem == HH_GGUF_I16 ? 2
                      : a->v.arr.elem == HH_GGUF_U32 || a->v.arr.elem == HH_GGUF_I32 || a->v.arr.elem == HH_GGUF_F32 ? 4 : 8;
            return a->v.arr.n == 0 || memcmp(a->v.arr.data, b->v.arr.data, (size_t)a->v.arr.n * es) == 0;
        }
        return true;
    default:
        return a->v.u == b->v.u;
    }
}

#define N_WKV 22
typedef struct wfix {
    const char     *keys[N_WKV];
    hh_gguf_value_t vals[N_WKV];
    /* backing storage for the array values */
    uint8_t  u8s[5];
    int32_t  i32s[4];
    float    f32s[3];
    uint8_t  bools[3];
    int16_t  i16a[2], i16b[3];
    const char *strs[4];
    uint64_t    str_lens[4];
    const char *leaf_strs[2];
    uint64_t    leaf_lens[2];
    hh_gguf_value_t inner[2];     /* arr<i16> items */
    hh_gguf_value_t deep2[1];     /* arr<str> inside arr inside arr */
    hh_gguf_value_t deep1[1];
    uint64_t nothing[1];
    /* tensors */
    float    t_f32[12];
    uint16_t t_f16[16];
    uint8_t  t_q4_0[2 * 2 * 18];
    uint8_t  t_q8_0[34];
    uint8_t  t_q4_k[2 * 144];
    uint8_t  t_iq4_nl[18];
} wfix_t;

/* Fills every byte with (index + seed) so tensors are distinguishable. */
static int fill_pattern(void *ctx, const char *name, void *dst, size_t nbytes, hh_err_t *err)
{
    uint8_t seed = (uint8_t)(uintptr_t)ctx;
    for (size_t i = 0; i < nbytes; i++)
        ((uint8_t *)dst)[i] = (uint8_t)(i * 7 + seed);
    return HH_OK;
}

static int fill_fail(void *ctx, const char *name, void *dst, size_t nbytes, hh_err_t *err)
{
    return hh_err_set(err, HH_ECANCELED, -1, "fill of %s canceled", name);
}

static void wfix_init(wfix_t *x, bool nested)
{
    memset(x, 0, sizeof *x);
    int k = 0;
#define KV(key_, ...) do { x->keys[k] = key_; x->vals[k] = (hh_gguf_value_t)__VA_ARGS__; k++; } while (0)
    KV("general.architecture", { .type = HH_GGUF_STR, .v.str = { "llama", 5 } });
    KV("t.u8", { .type = HH_GGUF_U8, .v.u = 200 });
    KV("t.i8", { .type = HH_GGUF_I8, .v.i = -100 });
    KV("t.u16", { .type = HH_GGUF_U16, .v.u = 60000 });
    KV("t.i16", { .type = HH_GGUF_I16, .v.i = -30000 });
    KV("t.u32", { .type = HH_GGUF_U32, .v.u = 4000000000u });
    KV("t.i32", { .type = HH_GGUF_I32, .v.i = -2000000000 });
    KV("t.f32", { .type = HH_GGUF_F32, .v.f = 1.5 });
    KV("t.bool", { .type = HH_GGUF_BOOL, .v.u = 1 });
    KV("t.str_nul", { .type = HH_GGUF_STR, .v.str = { "a\0b", 3 } });
    KV("t.u64", { .type = HH_GGUF_U64, .v.u = (1ull << 63) + 5 });
    KV("t.i64", { .type = HH_GGUF_I64, .v.i = -(1ll << 62) });
    KV("t.f64", { .type = HH_GGUF_F64, .v.f = 3.141592653589793 });
    memcpy(x->u8s, (uint8_t[]){ 1, 2, 3, 254, 255 }, 5);
    KV("t.arr_u8", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_U8, .n = 5, .data = x->u8s } });
    memcpy(x->i32s, (int32_t[]){ -1, 0, 7, 2147483647 }, sizeof x->i32s);
    KV("t.arr_i32", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_I32, .n = 4, .data = x->i32s } });
    memcpy(x->f32s, (float[]){ 0.25f, -3.0f, 1e-7f }, sizeof x->f32s);
    KV("t.arr_f32", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_F32, .n = 3, .data = x->f32s } });
    memcpy(x->bools, (uint8_t[]){ 1, 0, 1 }, 3);
    KV("t.arr_bool", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_BOOL, .n = 3, .data = x->bools } });
    x->strs[0] = "<unk>"; x->str_lens[0] = 5;
    x->strs[1] = "";      x->str_lens[1] = 0;
    x->strs[2] = "\xe2\x96\x81the"; x->str_lens[2] = 6;
    x->strs[3] = "x\0y";  x->str_lens[3] = 3;
    KV("t.arr_str", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_STR, .n = 4, .strs = x->strs, .str_lens = x->str_lens } });
    KV("t.arr_empty", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_U64, .n = 0, .data = x->nothing } });
    if (nested) {
        x->i16a[0] = -5; x->i16a[1] = 5;
        x->i16b[0] = 1; x->i16b[1] = 2; x->i16b[2] = 3;
        x->inner[0] = (hh_gguf_value_t){ .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_I16, .n = 2, .data = x->i16a } };
        x->inner[1] = (hh_gguf_value_t){ .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_I16, .n = 3, .data = x->i16b } };
        KV("t.arr_arr_i16", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_ARR, .n = 2, .items = x->inner } });
        x->leaf_strs[0] = "deep"; x->leaf_lens[0] = 4;
        x->leaf_strs[1] = "er";   x->leaf_lens[1] = 2;
        x->deep2[0] = (hh_gguf_value_t){ .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_STR, .n = 2, .strs = x->leaf_strs, .str_lens = x->leaf_lens } };
        x->deep1[0] = (hh_gguf_value_t){ .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_ARR, .n = 1, .items = x->deep2 } };
        KV("t.arr3", { .type = HH_GGUF_ARR, .v.arr = { .elem = HH_GGUF_ARR, .n = 1, .items = x->deep1 } });
    }
#undef KV
    for (size_t i = 0; i < 12; i++)
        x->t_f32[i] = (float)i * 0.5f - 2.0f;
    for (size_t i = 0; i < 16; i++)
        x->t_f16[i] = (uint16_t)(0x3c00 + i);
    for (size_t i = 0; i < sizeof x->t_q4_0; i++)
        x->t_q4_0[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof x->t_q8_0; i++)
        x->t_q8_0[i] = (uint8_t)(i * 5 + 1);
    for (size_t i = 0; i < sizeof x->t_q4_k; i++)
        x->t_q4_k[i] = (uint8_t)(i * 3 + 2);
    for (size_t i = 0; i < sizeof x->t_iq4_nl; i++)
        x->t_iq4_nl[i] = (uint8_t)(i + 100);
}

static int wfix_n_kv(const wfix_t *x)
{
    int n = 0;
    while (n < N_WKV && x->keys[n])
        n++;
    return n;
}

/* Adds the fixture's kv pairs and tensors (iq4_nl only when exotic). */
static int wfix_fill_writer(wfix_t *x, hh_gguf_writer_t *w, bool exotic)
{
    int rc;
    for (int i = 0; i < wfix_n_kv(x); i++) {
        if ((rc = hh_gguf_writer_set_value(w, x->keys[i], &x->vals[i])))
            return rc;
    }
    if ((rc = hh_gguf_writer_add_tensor(w, "a.f32", HH_TYPE_F32, 2, (int64_t[]){ 4, 3 }, x->t_f32, NULL, NULL)) ||
        (rc = hh_gguf_writer_add_tensor(w, "b.f16", HH_TYPE_F16, 2, (int64_t[]){ 8, 2 }, x->t_f16, NULL, NULL)) ||
        (rc = hh_gguf_writer_add_tensor(w, "c.q4_0", HH_TYPE_Q4_0, 3, (int64_t[]){ 64, 1, 2 }, x->t_q4_0, NULL, NULL)) ||
        (rc = hh_gguf_writer_add_tensor(w, "d.q8_0", HH_TYPE_Q8_0, 1, (int64_t[]){ 32 }, x->t_q8_0, NULL, NULL)) ||
        (rc = hh_gguf_writer_add_tensor(w, "e.q4_k", HH_TYPE_Q4_K, 4, (int64_t[]){ 256, 1, 2, 1 }, x->t_q4_k, NULL, NULL)) ||
        (rc = hh_gguf_writer_add_tensor(w, "f.bf16", HH_TYPE_BF16, 1, (int64_t[]){ 16 }, NULL, fill_pattern, (void *)(uintptr_t)9)) ||
        (rc = hh_gguf_writer_add_tensor(w, "g.q6_k", HH_TYPE_Q6_K, 2, (int64_t[]){ 256, 3 }, NULL, fill_pattern, (void *)(uintptr_t)4)))
        return rc;
    if (exotic)
        rc = hh_gguf_writer_add_tensor(w, "h.iq4_nl", 20, 1, (int64_t[]){ 32 }, x->t_iq4_nl, NULL, NULL);
    return rc;
}

/* Checks g holds exactly the fixture. */
static void check_fixture(const hh_gguf_t *g, const wfix_t *x, bool exotic, uint64_t align, int extra_kv)
{
    int nkv = wfix_n_kv(x);
    ASSERT_EQ_INT(hh_gguf_n_kv(g), nkv + extra_kv);
    ASSERT_EQ_INT(hh_gguf_alignment(g), align);
    ASSERT_EQ_INT(hh_gguf_data_offset(g) % align, 0);
    for (int i = 0; i < nkv; i++) {
        const hh_gguf_value_t *v = hh_gguf_get(g, x->keys[i]);
        if (v == NULL || !value_eq(&x->vals[i], v)) {
            hh_test_fail(__FILE__, __LINE__, "key %s: value differs after round trip", x->keys[i]);
            return;
        }
        ASSERT_STREQ(hh_gguf_kv_key(g, i + extra_kv), x->keys[i]);
    }
    ASSERT_EQ_INT(hh_gguf_n_tensors(g), exotic ? 8 : 7);
    const struct { const char *name; uint32_t type; uint32_t nd; int64_t ne0, ne1, ne2; size_t nbytes; const void *data; } want[] = {
        { "a.f32", HH_TYPE_F32, 2, 4, 3, 1, 48, x->t_f32 },
        { "b.f16", HH_TYPE_F16, 2, 8, 2, 1, 32, x->t_f16 },
        { "c.q4_0", HH_TYPE_Q4_0, 3, 64, 1, 2, 72, x->t_q4_0 },
        { "d.q8_0", HH_TYPE_Q8_0, 1, 32, 1, 1, 34, x->t_q8_0 },
        { "e.q4_k", HH_TYPE_Q4_K, 4, 256, 1, 2, 288, x->t_q4_k },
        { "f.bf16", HH_TYPE_BF16, 1, 16, 1, 1, 32, NULL },
        { "g.q6_k", HH_TYPE_Q6_K, 2, 256, 3, 1, 630, NULL },
        { "h.iq4_nl", 20, 1, 32, 1, 1, 18, x->t_iq4_nl },
    };
    for (int i = 0; i < (exotic ? 8 : 7); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        ASSERT_STREQ(t->name, want[i].name);
        ASSERT_TRUE(hh_gguf_find_tensor(g, want[i].name) == t);
        ASSERT_EQ_INT(t->type, want[i].type);
        ASSERT_EQ_INT(t->n_dims, want[i].nd);
        ASSERT_EQ_INT(t->ne[0], want[i].ne0);
        ASSERT_EQ_INT(t->ne[1], want[i].ne1);
        ASSERT_EQ_INT(t->ne[2], want[i].ne2);
        ASSERT_EQ_INT(t->ne[3], 1);
        ASSERT_EQ_INT(t->nbytes, want[i].nbytes);
        ASSERT_EQ_INT(t->offset % align, 0);
        if (want[i].data) {
            ASSERT_TRUE(memcmp(t->data, want[i].data, t->nbytes) == 0);
        } else {
            uint8_t seed = i == 5 ? 9 : 4;
            for (size_t b = 0; b < t->nbytes; b++)
                ASSERT_EQ_INT(((const uint8_t *)t->data)[b], (uint8_t)(b * 7 + seed));
        }
    }
}

TEST(gguf_writer_round_trip_memory)
{
    static wfix_t x;
    wfix_init(&x, true);
    hh_gguf_writer_t *w = NULL;
    ASSERT_OK(hh_gguf_writer_create(&w, 0, 0));
    ASSERT_OK(wfix_fill_writer(&x, w, true));
    void *img = NULL;
    size_t size = 0;
    hh_err_t err;
    ASSERT_OK(hh_gguf_writer_write_memory(w, &img, &size, &err));
    hh_gguf_writer_free(w);
    hh_gguf_t *g = NULL;
    int rc = hh_gguf_open_memory(&g, img, size, &err);
    if (rc)
        hh_test_fail(__FILE__, __LINE__, "%s", err.msg);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(hh_gguf_version(g), 3);
    check_fixture(g, &x, true, 32, 0);
    ASSERT_EQ_INT(size % 32, 0);

    /* Deep copy through set_value: re-emit every parsed value into a second
     * writer, close the source, write: byte-identical image. */
    ASSERT_OK(hh_gguf_writer_create(&w, 3, 32));
    for (int64_t i = 0; i < hh_gguf_n_kv(g); i++)
        ASSERT_OK(hh_gguf_writer_set_value(w, hh_gguf_kv_key(g, i), hh_gguf_kv_value(g, i)));
    void *copies[8];
    for (int64_t i = 0; i < hh_gguf_n_tensors(g); i++) {
        const hh_gguf_tensor_t *t = hh_gguf_tensor(g, i);
        copies[i] = malloc(t->nbytes);
        memcpy(copies[i], t->data, t->nbytes);
        ASSERT_OK(hh_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, copies[i], NULL, NULL));
    }
    int64_t nt = hh_gguf_n_tensors(g);
    hh_gguf_close(g);
    void *img2 = NULL;
    size_t size2 = 0;
    ASSERT_OK(hh_gguf_writer_write_memory(w, &img2, &size2, &err));
    ASSERT_EQ_INT(size2, size);
    ASSERT_TRUE(memcmp(img, img2, size) == 0);
    for (int64_t i = 0; i < nt; i++)
        free(copies[i]);
    hh_gguf_writer_free(w);
    free(img2);
    free(img);
}

TEST(gguf_writer_v2_align64_file)
{
    static wfix_t x;
    wfix_init(&x, true);
    hh_gguf_writer_t *w = NULL;
    ASSERT_OK(hh_gguf_writer_create(&w, 2, 64));
    ASSERT_OK(wfix_fill_writer(&x, w, false));
    char path[512];
    snprintf(path, sizeof path, "%s/rt_v2_a64.gguf", hh_test_tmpdir());
    hh_err_t err;
    ASSERT_OK(hh_gguf_writer_write(w, path, &err));
    hh_gguf_writer_free(w);
    const hh_gguf_load_t modes[2] = { HH_GGUF_LOAD_MMAP, HH_GGUF_LOAD_READ };
    for (int m = 0; m < 2; m++) {
        hh_gguf_params_t p = hh_gguf_default_params();
        p.load = modes[m];
        p.mlock = m == 1;
        hh_gguf_t *g = NULL;
        ASSERT_OK(hh_gguf_open(&g, path, &p, &err));
        ASSERT_EQ_INT(hh_gguf_version(g), 2);
        uint32_t al;
        ASSERT_OK(hh_gguf_get_u32(g, "general.alignment", &al));
        ASSERT_EQ_INT(al, 64);
        check_fixture(g, &x, false, 64, 1);
        hh_gguf_close(g);
    }
    /* No temporary file left behind next to the target. */
    DIR *d = opendir(hh_test_tmpdir());
    ASSERT_TRUE(d != NULL);
    struct dirent *e;
    int tmps = 0;
    while ((e = readdir(d)) != NULL)
        tmps += strstr(e->d_name, "rt_v2_a64.gguf.tmp") != NULL;
    closedir(d);
    ASSERT_EQ_INT(tmps, 0);
}

/* A file our writer produced passes the independent Python reader's round
 * trip (no nested arrays or iq types: mkgguf.py does not know them). */
TEST(gguf_writer_mkgguf_check)
{
    const char *py = "/usr/bin/python3";
    const char *tool = hh_test_data_path("../tools/mkgguf.py");
    if (access(py, X_OK) != 0) SKIP("%s missing (scripts/deps.sh installs python3)", py);
    ASSERT_TRUE(access(tool, R_OK) == 0);   /* shipped in ../shared/tools */
    static wfix_t x;
    wfix_init(&x, false);
    hh_gguf_writer_t *w = NULL;
    ASSERT_OK(hh_gguf_writer_create(&w, 3, 32));
    ASSERT_OK(wfix_fill_writer(&x, w, false));
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/mkgguf_check.gguf", hh_test_tmpdir());
    hh_err_t err;
    ASSERT_OK(hh_gguf_writer_write(w, path, &err));
    hh_gguf_writer_free(w);
    snprintf(cmd, sizeof cmd, "%s %s check %s 2>&1 | grep -q 'byte-identical'", py, tool, path);
    ASSERT_EQ_INT(system(cmd), 0);
}

TEST(gguf_writer_errors)
{
    hh_gguf_writer_t *w = NULL;
    ASSERT_EQ_INT(hh_gguf_writer_create(&w, 1, 32), HH_EINVAL);
    ASSERT_EQ_INT(hh_gguf_writer_create(&w, 3, 48), HH_EINVAL);
    ASSERT_OK(hh_gguf_writer_create(&w, 3, 32));
    float data[64] = { 0 };
    ASSERT_EQ_INT(hh_gguf_writer_add_tensor(w, "x", HH_TYPE_Q4_0, 1, (int64_t[]){ 33 }, data, NULL, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_gguf_writer_add_tensor(w, "x", 4, 1, (int64_t[]){ 32 }, data, NULL, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_gguf_writer_add_tensor(w, "x", HH_TYPE_F32, 5, (int64_t[]){ 1, 1, 1, 1, 1 }, data, NULL, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_gguf_writer_add_tensor(w, "x", HH_TYPE_F32, 1, (int64_t[]){ 0 }, data, NULL, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_gguf_writer_add_tensor(w, "x", HH_TYPE_F32, 1, (int64_t[]){ 4 }, NULL, NULL, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_gguf_writer_add_tensor(w, "x", HH_TYPE_F32, 2, (int64_t[]){ INT64_MAX / 2, 4 }, data, NULL, NULL),
                  HH_EOVERFLOW);
    ASSERT_OK(hh_gguf_writer_add_tensor(w, "x", HH_TYPE_F32, 1, (int64_t[]){ 4 }, data, NULL, NULL));
    ASSERT_EQ_INT(hh_gguf_writer_add_tensor(w, "x", HH_TYPE_F32, 1, (int64_t[]){ 4 }, data, NULL, NULL), HH_EINVAL);
    ASSERT_EQ_INT(hh_gguf_writer_set_str(w, "", "v"), HH_EINVAL);
    /* Setting a key twice keeps one entry with the last value. */
    ASSERT_OK(hh_gguf_writer_set_u32(w, "k", 1));
    ASSERT_OK(hh_gguf_writer_set_u32(w, "k", 2));
    ASSERT_OK(hh_gguf_writer_set_u32(w, "general.alignment", 64));
    hh_err_t err;
    void *img = NULL;
    size_t size = 0;
    ASSERT_EQ_INT(hh_gguf_writer_write_memory(w, &img, &size, &err), HH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "general.alignment") != NULL);
    ASSERT_OK(hh_gguf_writer_set_u32(w, "general.alignment", 32));
    ASSERT_OK(hh_gguf_writer_write_memory(w, &img, &size, &err));
    hh_gguf_t *g = NULL;
    ASSERT_OK(hh_gguf_open_memory(&g, img, size, &err));
    ASSERT_EQ_INT(hh_gguf_n_kv(g), 2);
    uint32_t u;
    ASSERT_OK(hh_gguf_get_u32(g, "k", &u));
    ASSERT_EQ_INT(u, 2);
    hh_gguf_close(g);
    free(img);
    /* A failing fill callback fails the write and leaves no file. */
    ASSERT_OK(hh_gguf_writer_add_tensor(w, "y", HH_TYPE_F32, 1, (int64_t[]){ 8 }, NULL, fill_fail, NULL));
    char path[512];
    snprintf(path, sizeof path, "%s/fill_fail.gguf", hh_test_tmpdir());
    ASSERT_EQ_INT(hh_gguf_writer_write(w, path, &err), HH_ECANCELED);
    ASSERT_TRUE(strstr(err.msg, "fill of y canceled") != NULL);
    ASSERT_TRUE(access(path, F_OK) != 0);
    hh_gguf_writer_free(w);
}

TEST(gguf_typed_getters)
{
    hh_gguf_writer_t *w = NULL;
    ASSERT_OK(hh_gguf_writer_create(&w, 3, 32));
    ASSERT_OK(hh_gguf_writer_set_i32(w, "neg", -1));
    ASSERT_OK(hh_gguf_writer_set_i32(w, "pos", 77));
    ASSERT_OK(hh_gguf_writer_set_u64(w, "big", 1ull << 40));
    ASSERT_OK(hh_gguf_writer_set_f32(w, "f", 0.5f));
    ASSERT_OK(hh_gguf_writer_set_bool(w, "b", true));
    hh_gguf_value_t d = { .type = HH_GGUF_F64, .v.f = 2.25 };
    ASSERT_OK(hh_gguf_writer_set_value(w, "d", &d));
    void *img;
    size_t size;
    hh_err_t err;
    ASSERT_OK(hh_gguf_writer_write_memory(w, &img, &size, &err));
    hh_gguf_writer_free(w);
    hh_gguf_t *g;
    ASSERT_OK(hh_gguf_open_memory(&g, img, size, &err));
    uint32_t u = 0;
    int64_t i = 0;
    float f = 0;
    bool b = false;
    ASSERT_EQ_INT(hh_gguf_get_u32(g, "neg", &u), HH_EFORMAT);
    ASSERT_OK(hh_gguf_get_u32(g, "pos", &u));
    ASSERT_EQ_INT(u, 77);
    ASSERT_EQ_INT(hh_gguf_get_u32(g, "big", &u), HH_EFORMAT);
    ASSERT_OK(hh_gguf_get_i64(g, "big", &i));
    ASSERT_EQ_INT(i, 1ll << 40);
    ASSERT_OK(hh_gguf_get_i64(g, "neg", &i));
    ASSERT_EQ_INT(i, -1);
    ASSERT_OK(hh_gguf_get_f32(g, "d", &f));
    ASSERT_NEAR(f, 2.25, 0);
    ASSERT_OK(hh_gguf_get_f32(g, "f", &f));
    ASSERT_NEAR(f, 0.5, 0);
    ASSERT_EQ_INT(hh_gguf_get_f32(g, "pos", &f), HH_EFORMAT);
    ASSERT_OK(hh_gguf_get_bool(g, "b", &b));
    ASSERT_TRUE(b);
    ASSERT_EQ_INT(hh_gguf_get_bool(g, "pos", &b), HH_EFORMAT);
    ASSERT_EQ_INT(hh_gguf_find_kv(g, "f"), 3);
    ASSERT_EQ_INT(hh_gguf_n_tensors(g), 0);
    hh_gguf_close(g);
    free(img);
}

/* ---- corrupt images ------------------------------------------------- */

/* Every proper prefix of a small valid file fails with HH_ETRUNC. */
TEST(gguf_truncated_every_byte)
{
    static wfix_t x;
    wfix_init(&x, true);
    hh_gguf_writer_t *w = NULL;
    ASSERT_OK(hh_gguf_writer_create(&w, 3, 32));
    ASSERT_OK(wfix_fill_writer(&x, w, true));
    void *img;
    size_t size;
    hh_err_t err;
    ASSERT_OK(hh_gguf_writer_write_memory(w, &img, &size, &err));
    hh_gguf_writer_free(w);
    img_t b = { .p = img, .len = size, .cap = size };
    /* Valid whole; the last tensor's trailing padding is not needed. */
    ASSERT_TRUE(expect_fail(&b, size, HH_OK, NULL, NOPOS, __FILE__, __LINE__));
    hh_gguf_t *g;
    ASSERT_OK(hh_gguf_open_memory(&g, img, size, &err));
    const hh_gguf_tensor_t *last = hh_gguf_tensor(g, hh_gguf_n_tensors(g) - 1);
    size_t need = (size_t)(hh_gguf_data_offset(g) + last->offset + last->nbytes);
    hh_gguf_close(g);
    for (size_t len = 0; len < need; len++) {
        if (!expect_fail(&b, len, HH_ETRUNC, NULL, NOPOS, __FILE__, __LINE__)) {
            free(img);
            return;
        }
    }
    free(img);
}

TEST(gguf_bad_magic_and_version)
{
    img_t b = { 0 };
    img_header(&b, 3, 0, 0);
    b.p[3] = 'X';
    EXPECT_FAIL(&b, HH_EFORMAT, "bad magic 'GGUX'", 0);
    b.p[3] = 'F';
    b.p[4] = 1;
    EXPECT_FAIL(&b, HH_EUNSUPPORTED, "version 1 is not supported", 4);
    b.p[4] = 99;
    EXPECT_FAIL(&b, HH_EUNSUPPORTED, "version 99", 4);
    b.p[4] = 0;
    b.p[7] = 3;
    EXPECT_FAIL(&b, HH_EUNSUPPORTED, "big-endian", 4);
    b.p[4] = 2;
    b.p[7] = 0;
    EXPECT_FAIL(&b, HH_OK, NULL, NOPOS);   /* v2, empty: valid */
    b.len = 3;
    EXPECT_FAIL(&b, HH_ETRUNC, "too short for the GGUF magic", 0);
    free(b.p);
}

TEST(gguf_counts_past_end)
{
    img_t b = { 0 };
    img_header(&b, 3, 0, 1000);
    img_kv_str(&b, "general.architecture", "llama");
    EXPECT_FAIL(&b, HH_ETRUNC, "n_kv 1000 needs at least 13000 bytes", 16);
    b.len = 0;
    img_header(&b, 3, 1ull << 62, 1);
    img_kv_str(&b, "general.architecture", "llama");
    EXPECT_FAIL(&b, HH_ETRUNC, "n_tensors 4611686018427387904", 8);
    b.len = 0;
    img_header(&b, 3, 0, UINT64_MAX);
    EXPECT_FAIL(&b, HH_ETRUNC, "n_kv 18446744073709551615", 16);
    free(b.p);
}

TEST(gguf_huge_string_and_array)
{
    img_t b = { 0 };
    /* value string length 2^63 */
    img_header(&b, 3, 0, 1);
    img_str(&b, "general.name");
    img_u32(&b, HH_GGUF_STR);
    size_t at = b.len;
    img_u64(&b, 1ull << 63);
    img_zeros(&b, 16);
    EXPECT_FAIL(&b, HH_ETRUNC, "kv 0 'general.name': string: length 9223372036854775808 past end of file", (int64_t)at);
    /* key length huge */
    b.len = 0;
    img_header(&b, 3, 0, 1);
    img_u64(&b, UINT64_MAX);
    img_zeros(&b, 16);
    EXPECT_FAIL(&b, HH_EFORMAT, "kv 0: key: length 18446744073709551615 exceeds the limit", 24);
    /* u32 array of 2^61 elements */
    b.len = 0;
    img_header(&b, 3, 0, 1);
    img_str(&b, "tokenizer.ggml.token_type");
    img_u32(&b, HH_GGUF_ARR);
    img_u32(&b, HH_GGUF_U32);
    at = b.len;
    img_u64(&b, 1ull << 61);
    img_zeros(&b, 64);
    EXPECT_FAIL(&b, HH_ETRUNC, "array length 2305843009213693952 of u32 needs at least", (int64_t)at);
    /* string array of 2^40 elements */
    b.len = 0;
    img_header(&b, 3, 0, 1);
    img_str(&b, "tokenizer.ggml.tokens");
    img_u32(&b, HH_GGUF_ARR);
    img_u32(&b, HH_GGUF_STR);
    img_u64(&b, 1ull << 40);
    img_zeros(&b, 64);
    EXPECT_FAIL(&b, HH_ETRUNC, "'tokenizer.ggml.tokens': array length 1099511627776 of str", NOPOS);
    free(b.p);
}

TEST(gguf_bad_kv_types)
{
    img_t b = { 0 };
    img_header(&b, 3, 0, 1);
    img_str(&b, "x.y");
    size_t at = b.len;
    img_u32(&b, 13);
    img_zeros(&b, 8);
    EXPECT_FAIL(&b, HH_EFORMAT, "kv 0 'x.y': unknown value type 13", (int64_t)at);
    b.len = 0;
    img_header(&b, 3, 0, 1);
    img_str(&b, "x.y");
    img_u32(&b, HH_GGUF_ARR);
    at = b.len;
    img_u32(&b, 77);
    img_u64(&b, 0);
    EXPECT_FAIL(&b, HH_EFORMAT, "unknown array element type 77", (int64_t)at);
    /* duplicate key */
    b.len = 0;
    img_header(&b, 3, 0, 3);
    img_kv_str(&b, "a", "1");
    img_kv_str(&b, "b", "2");
    at = b.len;
    img_kv_str(&b, "a", "3");
    EXPECT_FAIL(&b, HH_EFORMAT, "kv 2 'a': duplicate key (first at kv 0)", (int64_t)at);
    /* empty key */
    b.len = 0;
    img_header(&b, 3, 0, 1);
    img_kv_str(&b, "", "1");
    EXPECT_FAIL(&b, HH_EFORMAT, "key is empty", 24);
    free(b.p);
}

/* Array nested `depth` levels deep (depth 1 = a plain array of u8). */
static void build_nested(img_t *b, int depth)
{
    img_header(b, 3, 0, 1);
    img_str(b, "deep");
    img_u32(b, HH_GGUF_ARR);
    for (int d = 1; d < depth; d++) {
        img_u32(b, HH_GGUF_ARR);
        img_u64(b, 1);
    }
    img_u32(b, HH_GGUF_U8);
    img_u64(b, 1);
    img_u32(b, 0x7f);   /* the u8 + 3 spare bytes */
}

TEST(gguf_nested_depth)
{
    img_t b = { 0 };
    build_nested(&b, 8);
    EXPECT_FAIL(&b, HH_OK, NULL, NOPOS);
    hh_gguf_t *g;
    hh_err_t err;
    ASSERT_OK(hh_gguf_open_memory(&g, b.p, b.len, &err));
    const hh_gguf_value_t *v = hh_gguf_get(g, "deep");
    for (int d = 1; d < 8; d++) {
        ASSERT_EQ_INT(v->v.arr.elem, HH_GGUF_ARR);
        v = &v->v.arr.items[0];
    }
    ASSERT_EQ_INT(v->v.arr.elem, HH_GGUF_U8);
    ASSERT_EQ_INT(((const uint8_t *)v->v.arr.data)[0], 0x7f);
    hh_gguf_close(g);
    b.len = 0;
    build_nested(&b, 9);
    EXPECT_FAIL(&b, HH_EFORMAT, "'deep': arrays nested deeper than 8 levels", NOPOS);
    free(b.p);
}

TEST(gguf_bad_alignment)
{
    const uint32_t bad[2] = { 0, 3 };
    for (int i = 0; i < 2; i++) {
        img_t b = { 0 };
        img_header(&b, 3, 0, 1);
        img_str(&b, "general.alignment");
        img_u32(&b, HH_GGUF_U32);
        img_u32(&b, bad[i]);
        char sub[64];
        snprintf(sub, sizeof sub, "general.alignment %u is not a nonzero power of two", bad[i]);
        EXPECT_FAIL(&b, HH_EFORMAT, sub, -1);
        free(b.p);
    }
    img_t b = { 0 };
    img_header(&b, 3, 0, 1);
    img_str(&b, "general.alignment");
    img_u32(&b, HH_GGUF_STR);
    img_str(&b, "32");
    EXPECT_FAIL(&b, HH_EFORMAT, "general.alignment has type str", -1);
    free(b.p);
}

TEST(gguf_bad_tensor_infos)
{
    img_t b = { 0 };
    /* dims whose product overflows int64 */
    tinfo_t t1 = { "w", 2, { 1ull << 32, 1ull << 32 }, HH_TYPE_F32, 0 };
    build_tensors(&b, &t1, 1, 64);
    EXPECT_FAIL(&b, HH_EOVERFLOW, "tensor 0 'w': element count overflows (dimension 1", NOPOS);
    /* product fits int64, byte size does not */
    b.len = 0;
    tinfo_t t1b = { "w", 2, { 1ull << 31, 1ull << 31 }, HH_TYPE_F64, 0 };
    build_tensors(&b, &t1b, 1, 64);
    EXPECT_FAIL(&b, HH_EOVERFLOW, "tensor 0 'w': byte size overflows", NOPOS);
    /* negative (as int64) and zero dims */
    b.len = 0;
    tinfo_t t2 = { "w", 2, { 4, UINT64_MAX }, HH_TYPE_F32, 0 };
    build_tensors(&b, &t2, 1, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "tensor 0 'w': dimension 1 is -1 (must be >= 1)", NOPOS);
    b.len = 0;
    tinfo_t t3 = { "w", 1, { 0 }, HH_TYPE_F32, 0 };
    build_tensors(&b, &t3, 1, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "dimension 0 is 0", NOPOS);
    /* n_dims 0 and 5 */
    b.len = 0;
    tinfo_t t4 = { "w", 5, { 1, 1, 1, 1, 1 }, HH_TYPE_F32, 0 };
    build_tensors(&b, &t4, 1, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "tensor 0 'w': n_dims 5 outside 1..4", NOPOS);
    b.len = 0;
    tinfo_t t5 = { "w", 0, { 0 }, HH_TYPE_F32, 0 };
    build_tensors(&b, &t5, 1, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "n_dims 0 outside", NOPOS);
    /* unknown type ids: never defined (99) and retired (4) */
    b.len = 0;
    tinfo_t t6 = { "w", 1, { 32 }, 99, 0 };
    build_tensors(&b, &t6, 1, 64);
    EXPECT_FAIL(&b, HH_EUNSUPPORTED, "tensor 0 'w': unknown tensor type 99 (hoheit computes with: f32,", NOPOS);
    b.len = 0;
    tinfo_t t6b = { "w", 1, { 32 }, 4, 0 };
    build_tensors(&b, &t6b, 1, 64);
    EXPECT_FAIL(&b, HH_EUNSUPPORTED, "q6_K, iq4_nl, iq4_xs, mxfp4)", NOPOS);
    /* row not a multiple of the block */
    b.len = 0;
    tinfo_t t7 = { "w", 2, { 48, 2 }, HH_TYPE_Q4_0, 0 };
    build_tensors(&b, &t7, 1, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "row length 48 is not a multiple of the q4_0 block size 32", NOPOS);
    /* name empty / too long */
    b.len = 0;
    tinfo_t t8 = { "", 1, { 4 }, HH_TYPE_F32, 0 };
    build_tensors(&b, &t8, 1, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "tensor 0: name is empty", NOPOS);
    free(b.p);
}

TEST(gguf_bad_tensor_offsets)
{
    img_t b = { 0 };
    /* misaligned offset: info position of the offset field is checked */
    tinfo_t t[2] = { { "a", 1, { 4 }, HH_TYPE_F32, 0 }, { "b", 1, { 4 }, HH_TYPE_F32, 16 } };
    build_tensors(&b, t, 2, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "tensor 1 'b': offset 16 is not a multiple of the alignment 32", NOPOS);
    /* offset past the end: 32 + 16 > 40 data bytes */
    b.len = 0;
    t[1].offset = 32;
    build_tensors(&b, t, 2, 40);
    size_t data_off = b.len - 40;
    char sub[128];
    snprintf(sub, sizeof sub, "tensor 1 'b': offset+size %zu past end of file (size %zu)", data_off + 48, b.len);
    /* error pos = the offset field of tensor 1: end of infos - 8, before padding */
    EXPECT_FAIL(&b, HH_ETRUNC, sub, NOPOS);
    /* overlapping */
    b.len = 0;
    tinfo_t o[3] = { { "a", 1, { 16 }, HH_TYPE_F32, 0 }, { "b", 1, { 8 }, HH_TYPE_F32, 64 },
                     { "c", 1, { 8 }, HH_TYPE_F32, 32 } };
    build_tensors(&b, o, 3, 128);
    EXPECT_FAIL(&b, HH_EFORMAT, "tensor 2 'c' (offset 32) overlaps tensor 0 'a' (offset 0, 64 bytes)", NOPOS);
    /* duplicate tensor name */
    b.len = 0;
    tinfo_t dup[2] = { { "w", 1, { 8 }, HH_TYPE_F32, 0 }, { "w", 1, { 8 }, HH_TYPE_F32, 32 } };
    build_tensors(&b, dup, 2, 64);
    EXPECT_FAIL(&b, HH_EFORMAT, "tensor 1 'w': duplicate tensor name (first at tensor 0)", NOPOS);
    /* offset huge: no wraparound */
    b.len = 0;
    tinfo_t h[1] = { { "a", 1, { 8 }, HH_TYPE_F32, UINT64_MAX - 31 } };
    build_tensors(&b, h, 1, 64);
    EXPECT_FAIL(&b, HH_ETRUNC, "tensor 0 'a': offset+size 18446744073709551615 past end", NOPOS);
    /* the same, valid: adjacent tensors */
    b.len = 0;
    o[0].ne[0] = 8;
    build_tensors(&b, o, 3, 96);
    EXPECT_FAIL(&b, HH_OK, NULL, NOPOS);
    free(b.p);
}

/* A known type hoheit does not compute (iq2_xxs) still parses. */
TEST(gguf_noncompute_type_parses)
{
    img_t b = { 0 };
    tinfo_t t = { "w", 2, { 256, 2 }, 16, 0 };
    build_tensors(&b, &t, 1, 2 * 66);
    hh_gguf_t *g;
    hh_err_t err;
    ASSERT_OK(hh_gguf_open_memory(&g, b.p, b.len, &err));
    ASSERT_EQ_INT(hh_gguf_tensor(g, 0)->nbytes, 132);
    ASSERT_STREQ(hh_type_name(hh_gguf_tensor(g, 0)->type), "iq2_xxs");
    ASSERT_FALSE(hh_type_traits(16)->compute);
    ASSERT_TRUE(hh_type_traits(HH_TYPE_Q5_K)->compute);
    hh_gguf_close(g);
    free(b.p);
}

TEST(gguf_type_traits)
{
    size_t n;
    ASSERT_OK(hh_type_row_size(HH_TYPE_Q4_K, 512, &n));
    ASSERT_EQ_INT(n, 288);
    ASSERT_OK(hh_type_row_size(HH_TYPE_Q8_0, 64, &n));
    ASSERT_EQ_INT(n, 68);
    ASSERT_OK(hh_type_row_size(HH_TYPE_BF16, 3, &n));
    ASSERT_EQ_INT(n, 6);
    ASSERT_EQ_INT(hh_type_row_size(HH_TYPE_Q6_K, 255, &n), HH_EINVAL);
    ASSERT_EQ_INT(hh_type_row_size(5, 32, &n), HH_EINVAL);
    ASSERT_EQ_INT(hh_type_row_size(HH_TYPE_F64, INT64_MAX, &n), HH_EOVERFLOW);
    ASSERT_EQ_INT(hh_type_from_name("Q4_K"), HH_TYPE_Q4_K);
    ASSERT_EQ_INT(hh_type_from_name("bf16"), HH_TYPE_BF16);
    ASSERT_EQ_INT(hh_type_from_name("q4_2"), -1);
    ASSERT_STREQ(hh_type_name(HH_TYPE_Q3_K), "q3_K");
    ASSERT_STREQ(hh_type_name(1000), "unknown");
    ASSERT_TRUE(hh_type_traits(HH_TYPE_COUNT) == NULL);
    int compute = 0;
    for (uint32_t i = 0; i < HH_TYPE_COUNT; i++) {
        const hh_type_traits_t *t = hh_type_traits(i);
        if (t && t->compute) {
            compute++;
            ASSERT_TRUE(strstr(hh_type_supported_list(), t->name) != NULL);
        }
    }
    ASSERT_EQ_INT(compute, 16);   /* ... q6_K, iq4_nl, iq4_xs, mxfp4 */
    /* MXFP4: 32 values in 17 bytes (exponent byte + 16 bytes of nibbles) */
    ASSERT_OK(hh_type_row_size(HH_TYPE_MXFP4, 64, &n));
    ASSERT_EQ_INT(n, 34);
    ASSERT_EQ_INT(hh_type_from_name("MXFP4"), HH_TYPE_MXFP4);
}

/* `hoheit inspect` on stories260K (when the CLI is built: make test sets
 * HOHEIT_BIN). */
TEST(gguf_cli_inspect)
{
    const char *bin = getenv("HOHEIT_BIN");
    if (bin == NULL || access(bin, X_OK) != 0) SKIP("HOHEIT_BIN not set");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s inspect %s 2>&1", bin, hh_test_data_path("models/stories260K.gguf"));
    FILE *f = popen(cmd, "r");
    ASSERT_TRUE(f != NULL);
    static char out[1 << 16];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    ASSERT_EQ_INT(st, 0);
    const char *want[] = { "GGUF version 3", "architecture", "llama", "block count", "5",
                           "tokenizer", "vocab size", "512", "bos", "<s>", "token_embd.weight", "14112",
                           "f32 x48" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (strstr(out, want[i]) == NULL) {
            hh_test_fail(__FILE__, __LINE__, "inspect output lacks \"%s\":\n%s", want[i], out);
            return;
        }
    }
    snprintf(cmd, sizeof cmd, "%s inspect /nonexistent.gguf >/dev/null 2>&1", bin);
    st = system(cmd);
    ASSERT_EQ_INT(WEXITSTATUS(st), 1);
    snprintf(cmd, sizeof cmd, "%s inspect >/dev/null 2>&1", bin);
    st = system(cmd);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
}
