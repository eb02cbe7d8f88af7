/* tok.c - vocabulary loading (GGUF tokenizer.* keys, or GPT-2 style
 * encoder.json + vocab.bpe files), the text -> id hash table, special-token
 * partitioning, dispatch to the SPM / BPE / WordPiece encoders, token
 * pieces and the streaming detokenizer. */
#include "tok/tok_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing ------------------------------------------------------------ */

/* 64-bit FNV-1a with a final avalanche: token texts are short, this is
 * fast and spreads well enough for open addressing. */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t table_cap(uint64_t n)
{
    uint64_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    return cap;
}

int32_t hh_tokmap_find(const hh_vocab_t *v, const char *text, size_t len)
{
    if (!v->map.slots)
        return -1;
    for (uint64_t i = hash_bytes(text, len) & v->map.mask;; i = (i + 1) & v->map.mask) {
        int32_t id = v->map.slots[i];
        if (id < 0)
            return -1;
        if (v->text_len[id] == len && memcmp(v->blob + v->text_off[id], text, len) == 0)
            return id;
    }
}

static bool is_special_type(int t)
{
    return t == HH_TOKTYPE_CONTROL || t == HH_TOKTYPE_USER_DEFINED || t == HH_TOKTYPE_UNKNOWN;
}

/* Inserts id under its text; a later id with the same text replaces the
 * earlier one, except that a special token never hides an ordinary one
 * (as in HF tokenizers, whose BPE/SPM model keeps its own vocabulary and
 * matches added tokens separately, before it). */
static void tokmap_insert(hh_vocab_t *v, int32_t id)
{
    const char *text = v->blob + v->text_off[id];
    size_t len = v->text_len[id];
    for (uint64_t i = hash_bytes(text, len) & v->map.mask;; i = (i + 1) & v->map.mask) {
        int32_t cur = v->map.slots[i];
        if (cur < 0) {
            v->map.slots[i] = id;
            return;
        }
        if (v->text_len[cur] == len && memcmp(v->blob + v->text_off[cur], text, len) == 0) {
            if (!is_special_type(v->types[id]) || is_special_type(v->types[cur]))
                v->map.slots[i] = id;
            return;
        }
    }
}

const hh_mergeslot_t *hh_mergemap_find(const hh_vocab_t *v, int32_t left, int32_t right)
{
    if (!v->merges.slots || left < 0 || right < 0)
        return NULL;
    uint64_t key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
    for (uint64_t i = hash_u64(key) & v->merges.mask;; i = (i + 1) & v->merges.mask) {
        const hh_mergeslot_t *s = &v->merges.slots[i];
        if (s->key == 0)
            return NULL;
        if (s->key == key)
            return s;
    }
}

int hh_tok_bpe_init_merges(hh_vocab_t *v, const char *const *merges, const uint64_t *lens, uint64_t n,
                           hh_err_t *err)
{
    if (n > (uint64_t)INT32_MAX)
        return hh_err_set(err, HH_ERANGE, -1, "tokenizer: %llu merges", (unsigned long long)n);
    uint64_t cap = table_cap(n);
    v->merges.slots = calloc(cap, sizeof *v->merges.slots);
    if (!v->merges.slots)
        return hh_err_set(err, HH_ENOMEM, -1, "tokenizer: merge table");
    v->merges.mask = cap - 1;
    char *buf = NULL;
    size_t buf_cap = 0;
    for (uint64_t r = 0; r < n; r++) {
        const char *m = merges[r];
        size_t len = lens ? (size_t)lens[r] : strlen(m);
        /* "left right": the separator is the first space after the first
         * byte (byte-level tokens never contain a raw space). */
        const char *sp = len > 1 ? memchr(m + 1, ' ', len - 1) : NULL;
        if (!sp)
            continue;
        size_t ll = (size_t)(sp - m), rl = len - ll - 1;
        int32_t a = hh_tokmap_find(v, m, ll), b = hh_tokmap_find(v, sp + 1, rl);
        if (a < 0 || b < 0)
            continue;
        if (ll + rl > buf_cap) {
            char *nb = realloc(buf, ll + rl);
            if (!nb) {
                free(buf);
                return hh_err_set(err, HH_ENOMEM, -1, "tokenizer: merge buffer");
            }
            buf = nb;
            buf_cap = ll + rl;
        }
        memcpy(buf, m, ll);
        memcpy(buf + ll, sp + 1, rl);
        int32_t res = hh_tokmap_find(v, buf, ll + rl);
        if (res < 0)
            continue;
        uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
        for (uint64_t i = hash_u64(key) & v->merges.mask;; i = (i + 1) & v->merges.mask) {
            hh_mergeslot_t *s = &v->merges.slots[i];
            if (s->key == key)
                break; /* the first (highest-priority) rank of a pair wins */
            if (s->key == 0) {
                *s = (hh_mergeslot_t){ key, (int32_t)r, res };
                break;
            }
        }
    }
    free(buf);
    return HH_OK;
}

/* ---- per-call word cache ------------------------------------------------- */

/* At most this many words per call (bounds memory on huge inputs). */
#define WCACHE_MAX_WORDS (1u << 16)

int hh_wcache_get(const hh_wcache_t *c, const char *word, size_t len, uint64_t *hash, hh_idvec_t *out)
{
    if (len > HH_WCACHE_MAX_WORD)
        return 0;
    uint64_t h = *hash = hash_bytes(word, len);
    if (!c->slots)
        return 0;
    for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
        const hh_wcache_slot_t *s = &c->slots[i];
        if (!s->word)
            return 0;
        if (s->hash == h && s->len == len && !memcmp(s->word, word, len)) {
            if (out->n + s->n > out->cap) {
                size_t nc = out->cap ? out->cap : 64;
                while (nc < out->n + s->n)
                    nc *= 2;
                int32_t *nv = realloc(out->v, nc * sizeof *nv);
                if (!nv)
                    return HH_ENOMEM;
                out->v = nv;
                out->cap = nc;
            }
            memcpy(out->v + out->n, c->ids.v + s->off, s->n * sizeof *out->v);
            out->n += s->n;
            return 1;
        }
    }
}

static void wcache_insert(hh_wcache_slot_t *slots, size_t mask, hh_wcache_slot_t e)
{
    size_t i = e.hash & mask;
    while (slots[i].word)
        i = (i + 1) & mask;
    slots[i] = e;
}

int hh_wcache_put(hh_wcache_t *c, const char *word, size_t len, uint64_t hash, const hh_idvec_t *out, size_t from)
{
    size_t n = out->n - from;
    if (len > HH_WCACHE_MAX_WORD || c->used >= WCACHE_MAX_WORDS || c->ids.n + n > UINT32_MAX)
        return HH_OK;
    /* Grow at half load: rehash into a table twice the size. */
    if (!c->slots || (c->used + 1) * 2 > c->mask + 1) {
        size_t cap = c->slots ? (c->mask + 1) * 2 : 256;
        hh_wcache_slot_t *ns = calloc(cap, sizeof *ns);
        if (!ns)
            return HH_ENOMEM;
        if (c->slots)
            for (size_t i = 0; i <= c->mask; i++)
                if (c->slots[i].word)
                    wcache_insert(ns, cap - 1, c->slots[i]);
        free(c->slots);
        c->slots = ns;
        c->mask = cap - 1;
    }
    hh_wcache_slot_t e = { word, (uint32_t)len, (uint32_t)c->ids.n, (uint32_t)n, hash };
    for (size_t i = from; i < out->n; i++) {
        int rc = hh_idvec_push(&c->ids, out->v[i]);
        if (rc)
            return rc;
    }
    wcache_insert(c->slots, c->mask, e);
    c->used++;
    return HH_OK;
}

void hh_wcache_free(hh_wcache_t *c)
{
    free(c->slots);
    free(c->ids.v);
    *c = (hh_wcache_t){ 0 };
}

int hh_idvec_push(hh_idvec_t *iv, int32_t id)
{
    if (iv->n == iv->cap) {
        size_t nc = iv->cap ? iv->cap * 2 : 64;
        int32_t *nv = realloc(iv->v, nc * sizeof *nv);
        if (!nv)
            return HH_ENOMEM;
        iv->v = nv;
        iv->cap = nc;
    }
    iv->v[iv->n++] = id;
    return HH_OK;
}

int hh_heap_push(hh_heap_t *h, hh_cand_t c)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        hh_cand_t *nv = realloc(h->v, nc * sizeof *nv);
        if (!nv)
            return HH_ENOMEM;
        h->v = nv;
        h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].key <= c.key)
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = c;
    return HH_OK;
}

bool hh_heap_pop(hh_heap_t *h, hh_cand_t *c)
{
    if (!h->n)
        return false;
    *c = h->v[0];
    hh_cand_t last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && h->v[k + 1].key < h->v[k].key)
            k++;
        if (last.key <= h->v[k].key)
            break;
        h->v[i] = h->v[k];
        i = k;
    }
    if (n)
        h->v[i] = last;
    return true;
}

/* ---- building a vocabulary ------------------------------------------------ */

/* Everything the loaders gather before the common build. Pointers are
 * borrowed for the duration of vocab_build. -1 / -2 mean "absent". */
typedef struct vocab_spec {
    const char *model;           /* "llama", "gpt2", "bert" */
    const char *pre;             /* tokenizer.ggml.pre or NULL */
    uint64_t    n;
    const char *const *texts;    /* n texts (NULL entries: unused ids) */
    const uint64_t    *lens;     /* n lengths, or NULL for strlen */
    const float       *scores;   /* n or NULL */
    const int32_t     *types;    /* n or NULL */
    const char *const *merges;
    const uint64_t    *merge_lens;
    uint64_t           n_merges;
    int64_t bos, eos, unk, eot, sep, pad, cls;   /* -1 if absent */
    int     add_bos, add_eos, add_space_prefix;  /* -1 if absent */
} vocab_spec_t;

static const char *const EOG_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>",
    "<|end_of_text|>", "<EOT>", "<|END_OF_TURN_TOKEN|>",
};

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const hh_vocab_t *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    unsigned char fx = (unsigned char)v->blob[v->text_off[x]], fy = (unsigned char)v->blob[v->text_off[y]];
    if (fx != fy)
        return fx < fy ? -1 : 1;
    if (v->text_len[x] != v->text_len[y])
        return v->text_len[x] > v->text_len[y] ? -1 : 1;
    return x < y ? -1 : (x > y);
}

static int32_t spec_id(int64_t id, uint64_t n)
{
    return id >= 0 && (uint64_t)id < n ? (int32_t)id : -1;
}

static int vocab_build(hh_vocab_t **out, const vocab_spec_t *s, hh_err_t *err)
{
    *out = NULL;
    hh_vocab_kind_t kind;
    if (!s->model)
        return hh_err_set(err, HH_EFORMAT, -1, "tokenizer: tokenizer.ggml.model missing");
    if (!strcmp(s->model, "llama"))
        kind = HH_VOCAB_SPM;
    else if (!strcmp(s->model, "gpt2"))
        kind = HH_VOCAB_BPE;
    else if (!strcmp(s->model, "bert"))
        kind = HH_VOCAB_WPM;
    else
        return hh_err_set(err, HH_EUNSUPPORTED, -1, "tokenizer: model '%s' not supported", s->model);
    if (s->n == 0 || s->n > (uint64_t)INT32_MAX / 2)
        return hh_err_set(err, HH_ERANGE, -1, "tokenizer: %llu tokens", (unsigned long long)s->n);

    int rc = HH_ENOMEM;
    hh_vocab_t *v = calloc(1, sizeof *v);
    if (!v)
        return hh_err_set(err, HH_ENOMEM, -1, "tokenizer: vocab");
    v->kind = kind;
    v->n_tokens = (int32_t)s->n;
    size_t n = (size_t)s->n;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = s->texts[i] ? (s->lens ? s->lens[i] : strlen(s->texts[i])) : 0;
        if (len > UINT32_MAX / 2) {
            rc = hh_err_set(err, HH_ERANGE, -1, "tokenizer: token %zu is %llu bytes", i, (unsigned long long)len);
            goto fail;
        }
        total += len + 1;
    }
    v->blob = malloc(total);
    v->text_off = malloc(n * sizeof *v->text_off);
    v->text_len = malloc(n * sizeof *v->text_len);
    v->scores = calloc(n, sizeof *v->scores);
    v->types = malloc(n * sizeof *v->types);
    v->eog = calloc(n, 1);
    uint64_t cap = table_cap(s->n);
    v->map.slots = malloc(cap * sizeof *v->map.slots);
    if (!v->blob || !v->text_off || !v->text_len || !v->scores || !v->types || !v->eog || !v->map.slots) {
        hh_err_set(err, rc, -1, "tokenizer: %zu tokens", n);
        goto fail;
    }
    memset(v->map.slots, 0xff, cap * sizeof *v->map.slots);
    v->map.mask = cap - 1;
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = s->texts[i] ? (s->lens ? s->lens[i] : strlen(s->texts[i])) : 0;
        if (len)
            memcpy(v->blob + off, s->texts[i], len);
        v->blob[off + len] = 0;
        v->text_off[i] = off;
        v->text_len[i] = (uint32_t)len;
        off += len + 1;
        if (s->scores)
            v->scores[i] = s->scores[i];
        v->types[i] = s->types ? s->types[i] : HH_TOKTYPE_NORMAL;
        if (!s->texts[i])
            v->types[i] = HH_TOKTYPE_UNUSED;
        if (len > v->max_token_len)
            v->max_token_len = (uint32_t)len;
        if (len)
            tokmap_insert(v, (int32_t)i);
    }

    /* Special ids and flags: GGUF keys first, then the family defaults. */
    v->bos = spec_id(s->bos, s->n);
    v->eos = spec_id(s->eos, s->n);
    v->unk = spec_id(s->unk, s->n);
    v->eot = spec_id(s->eot, s->n);
    v->sep = spec_id(s->sep, s->n);
    v->pad = spec_id(s->pad, s->n);
    if (kind == HH_VOCAB_SPM) {
        if (s->bos < 0) v->bos = spec_id(1, s->n);
        if (s->eos < 0) v->eos = spec_id(2, s->n);
        if (s->unk < 0) v->unk = spec_id(0, s->n);
    } else if (kind == HH_VOCAB_WPM) {
        /* BERT: [CLS] text [SEP]. */
        v->bos = spec_id(s->cls >= 0 ? s->cls : s->bos >= 0 ? s->bos : 101, s->n);
        v->eos = spec_id(s->sep >= 0 ? s->sep : s->eos >= 0 ? s->eos : 102, s->n);
        if (s->unk < 0) v->unk = spec_id(100, s->n);
    }
    v->add_space_prefix = kind == HH_VOCAB_SPM;
    if (s->add_space_prefix >= 0)
        v->add_space_prefix = s->add_space_prefix;
    v->add_bos = kind != HH_VOCAB_BPE;
    v->add_eos = kind == HH_VOCAB_WPM;

    if (kind == HH_VOCAB_SPM) {
        for (int b = 0; b < 256; b++) {
            char buf[8];
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            v->byte_tok[b] = hh_tokmap_find(v, buf, 6);
        }
        v->spm_word_split = true;
        for (size_t i = 0; i < n && v->spm_word_split; i++) {
            const char *t = v->blob + v->text_off[i];
            for (size_t k = 1; k + 3 <= v->text_len[i]; k++)
                if (!memcmp(t + k, "\xe2\x96\x81", 3) && !(k >= 3 && !memcmp(t + k - 3, "\xe2\x96\x81", 3))) {
                    v->spm_word_split = false;
                    break;
                }
        }
    } else if (kind == HH_VOCAB_BPE) {
        hh_tok_bpe_init_bytes(v);
        rc = hh_tok_bpe_init_pre(v, s->pre, err);
        if (rc)
            goto fail;
        rc = hh_tok_bpe_init_merges(v, s->merges, s->merge_lens, s->merges ? s->n_merges : 0, err);
        if (rc)
            goto fail;
        if (v->ignore_merges || !strcmp(v->pre_name, "llama3") || !strcmp(v->pre_name, "llama-bpe"))
            v->add_bos = true;
    } else {
        for (int b = 0; b < 256; b++)
            v->byte_tok[b] = -1;
    }
    if (s->add_bos >= 0)
        v->add_bos = s->add_bos;
    if (s->add_eos >= 0)
        v->add_eos = s->add_eos;

    /* Tokens that may be written in text, and end-of-generation tokens. */
    size_t n_sp = 0;
    for (size_t i = 0; i < n; i++) {
        int t = v->types[i];
        if ((t == HH_TOKTYPE_CONTROL || t == HH_TOKTYPE_USER_DEFINED || t == HH_TOKTYPE_UNKNOWN) && v->text_len[i])
            n_sp++;
    }
    v->specials = malloc((n_sp ? n_sp : 1) * sizeof *v->specials);
    if (!v->specials) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "tokenizer: special tokens");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        int t = v->types[i];
        if ((t == HH_TOKTYPE_CONTROL || t == HH_TOKTYPE_USER_DEFINED || t == HH_TOKTYPE_UNKNOWN) && v->text_len[i])
            v->specials[v->n_specials++] = (int32_t)i;
        if (t == HH_TOKTYPE_CONTROL || t == HH_TOKTYPE_USER_DEFINED) {
            for (size_t k = 0; k < sizeof EOG_TEXTS / sizeof EOG_TEXTS[0]; k++)
                if (!strcmp(v->blob + v->text_off[i], EOG_TEXTS[k]))
                    v->eog[i] = 1;
        }
    }
    qsort_r(v->specials, (size_t)v->n_specials, sizeof *v->specials, cmp_special, v);
    if (v->eos >= 0) v->eog[v->eos] = kind != HH_VOCAB_WPM;
    if (v->eot >= 0) v->eog[v->eot] = 1;
    *out = v;
    return HH_OK;
fail:
    hh_vocab_free(v);
    return rc;
}

void hh_vocab_free(hh_vocab_t *v)
{
    if (!v)
        return;
    hh_tok_bpe_free_pre(v);
    free(v->blob);
    free(v->text_off);
    free(v->text_len);
    free(v->scores);
    free(v->types);
    free(v->eog);
    free(v->map.slots);
    free(v->merges.slots);
    free(v->specials);
    free(v);
}

static int64_t gguf_id(const hh_gguf_t *g, const char *key)
{
    uint32_t u;
    return hh_gguf_get_u32(g, key, &u) == HH_OK ? (int64_t)u : -1;
}

static int gguf_flag(const hh_gguf_t *g, const char *key)
{
    bool b;
    return hh_gguf_get_bool(g, key, &b) == HH_OK ? (int)b : -1;
}

/* Reads an integer array of any integer element type into int32. */
static int32_t *gguf_int_array(const hh_gguf_value_t *a, uint64_t n)
{
    int32_t *out = malloc((n ? n : 1) * sizeof *out);
    if (!out)
        return NULL;
    const unsigned char *p = a->v.arr.data;
    for (uint64_t i = 0; i < n; i++) {
        int64_t x;
        switch (a->v.arr.elem) {
        case HH_GGUF_I8:  x = ((const int8_t *)p)[i]; break;
        case HH_GGUF_U8:  x = p[i]; break;
        case HH_GGUF_I16: x = ((const int16_t *)p)[i]; break;
        case HH_GGUF_U16: x = ((const uint16_t *)p)[i]; break;
        case HH_GGUF_U32: x = ((const uint32_t *)p)[i]; break;
        case HH_GGUF_I64: x = ((const int64_t *)p)[i]; break;
        case HH_GGUF_U64: x = (int64_t)((const uint64_t *)p)[i]; break;
        default:          x = ((const int32_t *)p)[i]; break;
        }
        out[i] = x >= 0 && x <= 6 ? (int32_t)x : HH_TOKTYPE_NORMAL;
    }
    return out;
}

int hh_vocab_load(hh_vocab_t **out, const hh_gguf_t *g, hh_err_t *err)
{
    if (!out || !g)
        return hh_err_set(err, HH_EINVAL, -1, "tokenizer: NULL argument");
    *out = NULL;
    vocab_spec_t s = { 0 };
    int32_t *types = NULL;
    int rc = hh_gguf_get_str(g, "tokenizer.ggml.model", &s.model);
    if (rc)
        return hh_err_set(err, rc == HH_ENOENT ? HH_ENOENT : rc, -1, "tokenizer: tokenizer.ggml.model missing");
    if (hh_gguf_get_str(g, "tokenizer.ggml.pre", &s.pre) != HH_OK)
        s.pre = NULL;
    const hh_gguf_value_t *toks = NULL, *a = NULL;
    rc = hh_gguf_get_arr(g, "tokenizer.ggml.tokens", HH_GGUF_STR, &toks);
    if (rc)
        return hh_err_set(err, rc, -1, "tokenizer: tokenizer.ggml.tokens missing or not strings");
    s.n = toks->v.arr.n;
    s.texts = toks->v.arr.strs;
    s.lens = toks->v.arr.str_lens;
    if (hh_gguf_get_arr(g, "tokenizer.ggml.scores", HH_GGUF_F32, &a) == HH_OK) {
        if (a->v.arr.n != s.n)
            return hh_err_set(err, HH_EFORMAT, -1, "tokenizer: %llu scores for %llu tokens",
                              (unsigned long long)a->v.arr.n, (unsigned long long)s.n);
        s.scores = a->v.arr.data;
    }
    a = hh_gguf_get(g, "tokenizer.ggml.token_type");
    if (a && a->type == HH_GGUF_ARR && a->v.arr.elem != HH_GGUF_STR && a->v.arr.elem != HH_GGUF_ARR &&
        a->v.arr.elem != HH_GGUF_F32 && a->v.arr.elem != HH_GGUF_F64 && a->v.arr.elem != HH_GGUF_BOOL) {
        if (a->v.arr.n != s.n)
            return hh_err_set(err, HH_EFORMAT, -1, "tokenizer: %llu token types for %llu tokens",
                              (unsigned long long)a->v.arr.n, (unsigned long long)s.n);
        types = gguf_int_array(a, s.n);
        if (!types)
            return hh_err_set(err, HH_ENOMEM, -1, "tokenizer: token types");
        s.types = types;
    }
    if (hh_gguf_get_arr(g, "tokenizer.ggml.merges", HH_GGUF_STR, &a) == HH_OK) {
        s.merges = a->v.arr.strs;
        s.merge_lens = a->v.arr.str_lens;
        s.n_merges = a->v.arr.n;
    }
    s.bos = gguf_id(g, "tokenizer.ggml.bos_token_id");
    s.eos = gguf_id(g, "tokenizer.ggml.eos_token_id");
    s.unk = gguf_id(g, "tokenizer.ggml.unknown_token_id");
    s.eot = gguf_id(g, "tokenizer.ggml.eot_token_id");
    s.sep = gguf_id(g, "tokenizer.ggml.seperator_token_id");
    if (s.sep < 0)
        s.sep = gguf_id(g, "tokenizer.ggml.separator_token_id");
    s.pad = gguf_id(g, "tokenizer.ggml.padding_token_id");
    s.cls = gguf_id(g, "tokenizer.ggml.cls_token_id");
    s.add_bos = gguf_flag(g, "tokenizer.ggml.add_bos_token");
    s.add_eos = gguf_flag(g, "tokenizer.ggml.add_eos_token");
    s.add_space_prefix = gguf_flag(g, "tokenizer.ggml.add_space_prefix");
    rc = vocab_build(out, &s, err);
    free(types);
    return rc;
}

int hh_vocab_load_bpe_files(hh_vocab_t **out, const char *encoder_json, const char *vocab_bpe,
                            const char *pre_name, const char *const *added, size_t n_added, hh_err_t *err)
{
    if (!out || !encoder_json || !vocab_bpe)
        return hh_err_set(err, HH_EINVAL, -1, "tokenizer: NULL argument");
    *out = NULL;
    int rc = HH_OK;
    char *json = NULL, *bpe = NULL;
    cJSON *root = NULL;
    const char **texts = NULL, **merges = NULL;
    uint64_t *merge_lens = NULL;
    int32_t *types = NULL;
    size_t json_len = 0, bpe_len = 0;
    const char *paths[2] = { encoder_json, vocab_bpe };
    char **bufs[2] = { &json, &bpe };
    size_t *lens[2] = { &json_len, &bpe_len };
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(paths[k], "rb");
        if (!f) {
            rc = hh_err_set(err, HH_EIO, -1, "tokenizer: cannot open %s", paths[k]);
            goto cleanup;
        }
        size_t cap = 1 << 20, len = 0;
        char *b = malloc(cap + 1);
        while (b) {
            size_t got = fread(b + len, 1, cap - len, f);
            len += got;
            if (len < cap)
                break;
            char *nb = cap > SIZE_MAX / 4 ? NULL : realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        int ferr = ferror(f);
        fclose(f);
        if (!b || ferr) {
            free(b);
            rc = hh_err_set(err, b ? HH_EIO : HH_ENOMEM, -1, "tokenizer: reading %s", paths[k]);
            goto cleanup;
        }
        b[len] = 0;
        *bufs[k] = b;
        *lens[k] = len;
    }
    root = cJSON_ParseWithLength(json, json_len);
    if (!root || !cJSON_IsObject(root)) {
        rc = hh_err_set(err, HH_EFORMAT, -1, "tokenizer: %s is not a JSON object", encoder_json);
        goto cleanup;
    }
    int64_t max_id = -1;
    for (cJSON *it = root->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 16777216.0 || !it->string) {
            rc = hh_err_set(err, HH_EFORMAT, -1, "tokenizer: bad entry in %s", encoder_json);
            goto cleanup;
        }
        if ((int64_t)it->valuedouble > max_id)
            max_id = (int64_t)it->valuedouble;
    }
    size_t n = (size_t)(max_id + 1) + n_added;
    texts = calloc(n ? n : 1, sizeof *texts);
    types = malloc((n ? n : 1) * sizeof *types);
    if (!texts || !types) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "tokenizer: %zu tokens", n);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        types[i] = HH_TOKTYPE_NORMAL;
    for (cJSON *it = root->child; it; it = it->next)
        texts[(size_t)it->valuedouble] = it->string;
    for (size_t i = 0; i < n_added; i++) {
        texts[(size_t)(max_id + 1) + i] = added[i];
        types[(size_t)(max_id + 1) + i] = HH_TOKTYPE_CONTROL;
    }
    /* vocab.bpe: one "left right" pair per line, optional #version line. */
    size_t n_lines = 0;
    for (size_t i = 0; i < bpe_len; i++)
        n_lines += bpe[i] == '\n';
    merges = malloc((n_lines + 1) * sizeof *merges);
    merge_lens = malloc((n_lines + 1) * sizeof *merge_lens);
    if (!merges || !merge_lens) {
        rc = hh_err_set(err, HH_ENOMEM, -1, "tokenizer: %zu merges", n_lines);
        goto cleanup;
    }
    size_t n_merges = 0;
    for (char *p = bpe, *end = bpe + bpe_len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        if (len && p[len - 1] == '\r')
            len--;
        if (len && !(len >= 8 && !memcmp(p, "#version", 8))) {
            merges[n_merges] = p;
            merge_lens[n_merges++] = len;
        }
        p = le + 1;
    }
    vocab_spec_t s = {
        .model = "gpt2", .pre = pre_name, .n = n, .texts = texts, .types = types,
        .merges = merges, .merge_lens = merge_lens, .n_merges = n_merges,
        .bos = -1, .eos = -1, .unk = -1, .eot = -1, .sep = -1, .pad = -1, .cls = -1,
        .add_bos = -1, .add_eos = -1, .add_space_prefix = -1,
    };
    rc = vocab_build(out, &s, err);
    if (rc == HH_OK) {
        /* Plain files name no special ids: take the usual texts. */
        hh_vocab_t *v = *out;
        static const char *const BOS[] = { "<|begin_of_text|>", "<s>", "<|startoftext|>" };
        static const char *const EOS[] = { "<|end_of_text|>", "</s>", "<|endoftext|>" };
        for (size_t i = 0; i < 3 && v->bos < 0; i++)
            v->bos = hh_tokmap_find(v, BOS[i], strlen(BOS[i]));
        for (size_t i = 0; i < 3 && v->eos < 0; i++)
            v->eos = hh_tokmap_find(v, EOS[i], strlen(EOS[i]));
        v->eot = hh_tokmap_find(v, "<|eot_id|>", 10);
        if (v->eos >= 0) v->eog[v->eos] = 1;
        if (v->eot >= 0) v->eog[v->eot] = 1;
    }
cleanup:
    cJSON_Delete(root);
    free(json);
    free(bpe);
    free(texts);
    free(types);
    free(merges);
    free(merge_lens);
    return rc;
}

/* ---- accessors ----------------------------------------------------------- */

hh_vocab_kind_t hh_vocab_kind(const hh_vocab_t *v) { return v->kind; }
int32_t hh_vocab_n_tokens(const hh_vocab_t *v) { return v->n_tokens; }
int32_t hh_vocab_bos(const hh_vocab_t *v) { return v->bos; }
int32_t hh_vocab_eos(const hh_vocab_t *v) { return v->eos; }
int32_t hh_vocab_eot(const hh_vocab_t *v) { return v->eot; }
bool    hh_vocab_add_bos(const hh_vocab_t *v) { return v->add_bos; }
bool    hh_vocab_add_eos(const hh_vocab_t *v) { return v->add_eos; }
const char *hh_vocab_pre(const hh_vocab_t *v) { return v->pre_name; }
uint32_t hh_vocab_max_token_len(const hh_vocab_t *v) { return v->max_token_len; }

bool hh_vocab_is_eog(const hh_vocab_t *v, int32_t id)
{
    return id >= 0 && id < v->n_tokens && v->eog[id];
}

bool hh_vocab_is_control(const hh_vocab_t *v, int32_t id)
{
    return id >= 0 && id < v->n_tokens && v->types[id] == HH_TOKTYPE_CONTROL;
}

const char *hh_vocab_text(const hh_vocab_t *v, int32_t id)
{
    if (id < 0 || id >= v->n_tokens)
        return NULL;
    return v->blob + v->text_off[id];
}

int32_t hh_vocab_find(const hh_vocab_t *v, const char *text, size_t len)
{
    return hh_tokmap_find(v, text, len);
}

/* ---- tokenizing ---------------------------------------------------------- */

/* The special token whose text starts at text[0], longest first; -1 if none.
 * Control and unknown tokens count only when parse_special; user-defined
 * tokens are always recognized (as the reference tokenizers do). */
static int32_t special_at(const hh_vocab_t *v, const int32_t *first, const char *text, size_t len,
                          bool parse_special)
{
    unsigned char c = (unsigned char)text[0];
    for (int32_t k = first[c]; k < first[c + 1]; k++) {
        int32_t id = v->specials[k];
        if (!parse_special && v->types[id] != HH_TOKTYPE_USER_DEFINED)
            continue;
        size_t tl = v->text_len[id];
        if (tl <= len && memcmp(text, v->blob + v->text_off[id], tl) == 0)
            return id;
    }
    return -1;
}

static int encode_fragment(const hh_vocab_t *v, const char *text, size_t len, bool prev_special, hh_idvec_t *out)
{
    switch (v->kind) {
    case HH_VOCAB_SPM: return hh_tok_spm_encode(v, text, len, v->add_space_prefix && prev_special, out);
    case HH_VOCAB_BPE: return hh_tok_bpe_encode(v, text, len, out);
    case HH_VOCAB_WPM: return hh_tok_wpm_encode(v, text, len, out);
    }
    return HH_EINVAL;
}

int hh_tokenize(const hh_vocab_t *v, const char *text, size_t len, bool add_special, bool parse_special,
                int32_t **ids, size_t *n_ids, hh_err_t *err)
{
    if (!v || (!text && len) || !ids || !n_ids)
        return hh_err_set(err, HH_EINVAL, -1, "tokenize: NULL argument");
    *ids = NULL;
    *n_ids = 0;
    hh_idvec_t out = { 0 };
    int rc = HH_OK;
    /* first[c]..first[c+1]: specials whose text starts with byte c. */
    int32_t first[257];
    int32_t k = 0;
    for (int c = 0; c < 256; c++) {
        first[c] = k;
        while (k < v->n_specials && (unsigned char)v->blob[v->text_off[v->specials[k]]] == c)
            k++;
    }
    first[256] = k;

    if (add_special && v->add_bos && v->bos >= 0 && (rc = hh_idvec_push(&out, v->bos)))
        goto fail;
    bool prev_special = true;
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        int32_t id = first[c] < first[c + 1] ? special_at(v, first, text + i, len - i, parse_special) : -1;
        if (id < 0) {
            i++;
            continue;
        }
        if (i > start) {
            if ((rc = encode_fragment(v, text + start, i - start, prev_special, &out)))
                goto fail;
        }
        if ((rc = hh_idvec_push(&out, id)))
            goto fail;
        prev_special = true;
        i += v->text_len[id];
        start = i;
    }
    if (len > start && (rc = encode_fragment(v, text + start, len - start, prev_special, &out)))
        goto fail;
    if (add_special && v->add_eos && v->eos >= 0 && (rc = hh_idvec_push(&out, v->eos)))
        goto fail;
    if (!out.v && !(out.v = malloc(sizeof *out.v))) {
        rc = HH_ENOMEM;
        goto fail;
    }
    *ids = out.v;
    *n_ids = out.n;
    return HH_OK;
fail:
    free(out.v);
    return hh_err_set(err, rc, -1, "tokenize: %s", hh_strerror(rc));
}

/* ---- pieces and detokenizing --------------------------------------------- */

/* Appends n bytes to buf (capacity size) at *pos, counting past the end. */
static void put(char *buf, size_t size, size_t *pos, const char *s, size_t n)
{
    if (*pos < size)
        memcpy(buf + *pos, s, n < size - *pos ? n : size - *pos);
    *pos += n;
}

int hh_token_to_piece(const hh_vocab_t *v, int32_t id, bool render_special, char *buf, size_t size)
{
    if (!v || id < 0 || id >= v->n_tokens || (!buf && size))
        return HH_EINVAL;
    const char *t = v->blob + v->text_off[id];
    size_t tl = v->text_len[id], pos = 0;
    switch (v->types[id]) {
    case HH_TOKTYPE_CONTROL:
    case HH_TOKTYPE_UNKNOWN:
    case HH_TOKTYPE_UNUSED:
        if (render_special)
            put(buf, size, &pos, t, tl);
        break;
    case HH_TOKTYPE_USER_DEFINED:
        put(buf, size, &pos, t, tl);
        break;
    case HH_TOKTYPE_BYTE:
        if (tl == 6 && t[0] == '<' && t[1] == '0' && t[2] == 'x' && t[5] == '>') {
            char b = (char)strtol((char[]){ t[3], t[4], 0 }, NULL, 16);
            put(buf, size, &pos, &b, 1);
        } else {
            put(buf, size, &pos, t, tl);
        }
        break;
    default:
        if (v->kind == HH_VOCAB_BPE) {
            /* Undo the byte-to-unicode mapping char by char; chars outside
             * the mapping pass through as they are. */
            for (size_t i = 0; i < tl;) {
                size_t cl = hh_utf8_len((unsigned char)t[i]);
                if (cl > tl - i)
                    cl = tl - i;
                uint32_t cp = (unsigned char)t[i];
                if (cl == 2)
                    cp = ((cp & 0x1F) << 6) | ((unsigned char)t[i + 1] & 0x3F);
                if ((cl == 1 || cl == 2) && cp < 324 && v->cp_to_byte[cp] >= 0) {
                    char b = (char)v->cp_to_byte[cp];
                    put(buf, size, &pos, &b, 1);
                } else {
                    put(buf, size, &pos, t + i, cl);
                }
                i += cl;
            }
        } else {
            /* SPM and WordPiece: U+2581 stands for a space. */
            for (size_t i = 0; i < tl;) {
                if (tl - i >= 3 && !memcmp(t + i, "\xe2\x96\x81", 3)) {
                    put(buf, size, &pos, " ", 1);
                    i += 3;
                } else {
                    put(buf, size, &pos, t + i, 1);
                    i++;
                }
            }
        }
        break;
    }
    if (pos > INT32_MAX)
        return HH_ERANGE;
    return (int)pos;
}

/* SPM with the space prefix, and WordPiece, start the text with a space
 * that the original text did not have; SPM inserts it again after every
 * special token (the text after one is a fresh fragment). */
static bool drops_leading_space(const hh_vocab_t *v)
{
    return (v->kind == HH_VOCAB_SPM && v->add_space_prefix) || v->kind == HH_VOCAB_WPM;
}

/* True when the piece after id starts a new fragment (its space prefix is
 * not part of the text). */
static bool restarts_fragment(const hh_vocab_t *v, int32_t id)
{
    return is_special_type(v->types[id]);
}

int hh_detokenize(const hh_vocab_t *v, const int32_t *ids, size_t n, bool render_special, char **out,
                  size_t *out_len)
{
    if (!v || (!ids && n) || !out || !out_len)
        return HH_EINVAL;
    *out = NULL;
    *out_len = 0;
    size_t cap = 64, len = 0;
    char *b = malloc(cap);
    if (!b)
        return HH_ENOMEM;
    bool at_start = true;
    for (size_t i = 0; i < n; i++) {
        int pl = hh_token_to_piece(v, ids[i], render_special, NULL, 0);
        if (pl < 0) {
            free(b);
            return pl;
        }
        while (len + (size_t)pl + 1 > cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return HH_ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        hh_token_to_piece(v, ids[i], render_special, b + len, (size_t)pl);
        size_t skip = 0;
        if (at_start && pl > 0) {
            if (drops_leading_space(v) && b[len] == ' ')
                skip = 1;
            at_start = false;
        }
        memmove(b + len, b + len + skip, (size_t)pl - skip);
        len += (size_t)pl - skip;
        if (restarts_fragment(v, ids[i]))
            at_start = true;
    }
    b[len] = 0;
    *out = b;
    *out_len = len;
    return HH_OK;
}

void hh_detok_init(hh_detok_t *d, const hh_vocab_t *v, bool render_special)
{
    memset(d, 0, sizeof *d);
    d->vocab = v;
    d->render_special = render_special;
    d->at_start = true;
}

/* Length of the valid UTF-8 sequence at s[0..n): > 0 complete, 0 a valid
 * but unfinished prefix that reaches the end, -1 invalid lead or
 * continuation (the caller replaces one byte). */
static int utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return -1;
    for (size_t i = 1; i < need; i++) {
        if (i >= n)
            return 0;
        unsigned char x = s[i];
        if (i == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF))
            return -1;
    }
    return (int)need;
}

int hh_detok_push(hh_detok_t *d, int32_t id, char *out, size_t cap)
{
    if (!d || !d->vocab || (!out && cap))
        return HH_EINVAL;
    int pl = hh_token_to_piece(d->vocab, id, d->render_special, NULL, 0);
    if (pl < 0)
        return pl;
    char stack[512];
    size_t total = d->n_pending + (size_t)pl;
    char *b = total <= sizeof stack ? stack : malloc(total);
    if (!b)
        return HH_ENOMEM;
    memcpy(b, d->pending, d->n_pending);
    hh_token_to_piece(d->vocab, id, d->render_special, b + d->n_pending, (size_t)pl);
    size_t i = 0, o = 0;
    bool at_start = d->at_start;
    if (at_start && total > 0) {
        if (drops_leading_space(d->vocab) && b[0] == ' ')
            i = 1;
        at_start = false;
    }
    int rc = HH_OK;
    size_t keep = 0;
    while (i < total) {
        int sl = utf8_seq((const unsigned char *)b + i, total - i);
        if (sl == 0) {
            keep = total - i;   /* an unfinished character: wait for more */
            break;
        }
        const char *src = sl > 0 ? b + i : "\xef\xbf\xbd";
        size_t cl = sl > 0 ? (size_t)sl : 3;
        if (o + cl > cap) {
            rc = HH_EFULL;
            break;
        }
        memcpy(out + o, src, cl);
        o += cl;
        i += sl > 0 ? (size_t)sl : 1;
    }
    if (rc == HH_OK) {
        memcpy(d->pending, b + i, keep);
        d->n_pending = keep;
        d->at_start = at_start || restarts_fragment(d->vocab, id);
    }
    if (b != stack)
        free(b);
    return rc ? rc : (int)o;
}

int hh_detok_flush(hh_detok_t *d, char *out, size_t cap)
{
    if (!d || (!out && cap))
        return HH_EINVAL;
    if (!d->n_pending)
        return 0;
    if (cap < 3)
        return HH_EFULL;
    memcpy(out, "\xef\xbf\xbd", 3);
    d->n_pending = 0;
    return 3;
}
