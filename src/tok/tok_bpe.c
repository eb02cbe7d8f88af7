/* tok_bpe.c - byte-level BPE (GPT-2 style): the byte-to-unicode mapping,
 * the pre-tokenizer families named by tokenizer.ggml.pre (PCRE2 regexes
 * with UTF + UCP, applied one after another, each splitting the pieces the
 * previous left), and rank-ordered merges per pre-token with a heap; a
 * per-call cache maps repeated pre-tokens to their ids. */
#include "tok/tok_int.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- byte <-> unicode ------------------------------------------------------ */

void hh_tok_bpe_init_bytes(hh_vocab_t *v)
{
    /* Printable bytes stand for themselves; the others (controls, space,
     * 0x7F-0xA0, 0xAD) get code points 256, 257, ... in byte order. */
    int next = 256;
    for (int i = 0; i < 324; i++)
        v->cp_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        int cp = printable ? b : next++;
        v->byte_to_cp[b] = (uint16_t)cp;
        v->cp_to_byte[cp] = (int16_t)b;
        char buf[2];
        size_t n;
        if (cp < 0x80) {
            buf[0] = (char)cp;
            n = 1;
        } else {
            buf[0] = (char)(0xC0 | (cp >> 6));
            buf[1] = (char)(0x80 | (cp & 0x3F));
            n = 2;
        }
        v->byte_tok[b] = hh_tokmap_find(v, buf, n);
    }
}

/* ---- pre-tokenizer families ------------------------------------------------ */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+" \
                  "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+" \
                 "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* DeepSeek LLM: cased letters of the scripts its tokenizer names. */
#define RE_DS_LETTERS "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af" \
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481" \
    "\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b" \
    "\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d" \
    "\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec" \
    "\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d" \
    "\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee" \
    "\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06" \
    "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb" \
    "\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+"
#define RE_CJK_HANGUL "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"
#define RE_BLOOM " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+"

typedef struct pre_family {
    const char *name;
    bool        ignore_merges;
    const char *re[HH_TOK_MAX_REGEX];
} pre_family_t;

static const pre_family_t FAMILIES[] = {
    { "gpt-2", false, { RE_GPT2 } },
    { "llama3", true, { RE_LLAMA3 } },
    { "qwen2", false, { RE_QWEN2 } },
    { "deepseek-llm", false, { "[\\r\\n]", RE_DS_LETTERS, "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
                               "\\s+$", RE_CJK_HANGUL, "\\p{N}+" } },
    { "deepseek-coder", false, { "[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK_HANGUL, "\\p{N}" } },
    { "deepseek-v3", false, { "\\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
                              "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                              "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" } },
    { "falcon", false, { "[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]" } },
    { "starcoder", false, { "\\p{N}", RE_GPT2 } },
    { "bloom", false, { RE_BLOOM } },
    { "viking", false, { RE_BLOOM, "\\p{N}" } },
    { "tekken", true, { "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
                        "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
                        "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" } },
    { "gpt-4o", false, { "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
                         "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
                         "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}"
                         "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" } },
};

/* tokenizer.ggml.pre names -> the family whose regexes they use. */
static const struct { const char *alias, *family; } ALIASES[] = {
    { "default", "gpt-2" }, { "gpt2", "gpt-2" }, { "mpt", "gpt-2" }, { "olmo", "gpt-2" }, { "jais", "gpt-2" },
    { "phi-2", "gpt-2" }, { "trillion", "gpt-2" }, { "jina-es", "gpt-2" }, { "jina-de", "gpt-2" },
    { "jina-v1-en", "gpt-2" }, { "jina-v2-es", "gpt-2" }, { "jina-v2-de", "gpt-2" }, { "jina-v2-code", "gpt-2" },
    { "llama-bpe", "llama3" }, { "llama-v3", "llama3" }, { "falcon3", "llama3" }, { "falcon-h1", "llama3" },
    { "pixtral", "llama3" }, { "dbrx", "llama3" }, { "smaug-bpe", "llama3" }, { "chatglm-bpe", "llama3" },
    { "stablelm2", "qwen2" }, { "megrez", "qwen2" }, { "deepseek-r1-qwen", "qwen2" }, { "qwen35", "qwen2" },
    { "refact", "starcoder" }, { "smollm", "starcoder" }, { "command-r", "starcoder" },
    { "codeshell", "starcoder" }, { "exaone", "starcoder" }, { "minerva-7b", "starcoder" },
    { "poro-chat", "bloom" }, { "gpt3-finnish", "bloom" }, { "llama4", "gpt-4o" }, { "deepseek-v3", "deepseek-v3" },
};

static const pre_family_t *find_family(const char *name)
{
    const char *fam = name && *name ? name : "gpt-2";
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
        if (!strcmp(fam, ALIASES[i].alias))
            fam = ALIASES[i].family;
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; i++)
        if (!strcmp(fam, FAMILIES[i].name))
            return &FAMILIES[i];
    return NULL;
}

int hh_tok_bpe_init_pre(hh_vocab_t *v, const char *pre_name, hh_err_t *err)
{
    const pre_family_t *f = find_family(pre_name);
    if (!f) {
        HH_LOGW("tokenizer: unknown pre-tokenizer '%s', using gpt-2's", pre_name);
        f = &FAMILIES[0];
    }
    snprintf(v->pre_name, sizeof v->pre_name, "%s", f->name);
    v->ignore_merges = f->ignore_merges;
    for (int i = 0; i < HH_TOK_MAX_REGEX && f->re[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        /* Invalid UTF-8 in the text must not fail the match: such bytes
         * match nothing and end up in the gaps, which are kept. $ means
         * the end of the piece only, as in ECMAScript. */
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                                       &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return hh_err_set(err, HH_EFORMAT, (int64_t)eo, "tokenizer: %s regex %d: %s", f->name, i, (char *)msg);
        }
        v->regex[i] = re;
        v->regex_jit[i] = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
        v->n_regex = i + 1;
    }
    return HH_OK;
}

void hh_tok_bpe_free_pre(hh_vocab_t *v)
{
    for (int i = 0; i < v->n_regex; i++)
        pcre2_code_free(v->regex[i]);
    v->n_regex = 0;
}

/* ---- encoding ---------------------------------------------------------------- */

typedef struct span {
    size_t start, len;
} span_t;

typedef struct spanvec {
    span_t *v;
    size_t  n, cap;
} spanvec_t;

static int span_push(spanvec_t *sv, size_t start, size_t len)
{
    if (!len)
        return HH_OK;
    if (sv->n == sv->cap) {
        size_t nc = sv->cap ? sv->cap * 2 : 256;
        span_t *nv = realloc(sv->v, nc * sizeof *nv);
        if (!nv)
            return HH_ENOMEM;
        sv->v = nv;
        sv->cap = nc;
    }
    sv->v[sv->n++] = (span_t){ start, len };
    return HH_OK;
}

/* Splits every span of in by re: the matches and the gaps between them
 * all become spans of out (nothing is dropped). */
static int regex_split(const pcre2_code *re, pcre2_match_data *md, const char *text, const spanvec_t *in,
                       spanvec_t *out)
{
    int rc = HH_OK;
    for (size_t k = 0; k < in->n && !rc; k++) {
        const char *subj = text + in->v[k].start;
        size_t len = in->v[k].len, pos = 0, last = 0;
        while (pos < len) {
            int m = pcre2_match(re, (PCRE2_SPTR)subj, len, pos, 0, md, NULL);
            if (m < 0)
                break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me <= ms) {      /* empty match: step over one character */
                pos = ms + hh_utf8_len((unsigned char)subj[ms]);
                continue;
            }
            if ((rc = span_push(out, in->v[k].start + last, ms - last)) ||
                (rc = span_push(out, in->v[k].start + ms, me - ms)))
                break;
            last = pos = me;
        }
        if (!rc && last < len)
            rc = span_push(out, in->v[k].start + last, len - last);
    }
    return rc;
}

typedef struct sym {
    int32_t start, len;  /* bytes of the mapped word */
    int32_t prev, next;
    int32_t id;          /* token of these bytes, -1 if none */
} sym_t;

typedef struct bpe_work {
    char      *mapped;
    size_t     mapped_cap;
    sym_t     *syms;
    size_t     syms_cap;
    hh_heap_t  heap;
    hh_wcache_t cache;     /* pre-token bytes -> ids, for this call */
} bpe_work_t;

static int bpe_push_pair(const hh_vocab_t *v, bpe_work_t *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return HH_OK;
    const hh_mergeslot_t *m = hh_mergemap_find(v, w->syms[l].id, w->syms[r].id);
    if (!m)
        return HH_OK;
    return hh_heap_push(&w->heap, (hh_cand_t){ ((uint64_t)(uint32_t)m->rank << 32) | (uint32_t)l, l, r,
                                               w->syms[l].id, w->syms[r].id });
}

/* One pre-token: map its bytes, then merge the lowest-ranked adjacent pair
 * (leftmost on ties) until no pair merges. */
static int bpe_word(const hh_vocab_t *v, bpe_work_t *w, const unsigned char *s, size_t len, hh_idvec_t *out)
{
    if (len == 1 && v->byte_tok[s[0]] >= 0)
        return hh_idvec_push(out, v->byte_tok[s[0]]);
    if (len > (size_t)INT32_MAX / 2)
        return HH_ERANGE;
    if (len * 2 > w->mapped_cap) {
        char *nm = realloc(w->mapped, len * 2);
        if (!nm)
            return HH_ENOMEM;
        w->mapped = nm;
        w->mapped_cap = len * 2;
    }
    if (len > w->syms_cap) {
        sym_t *ns = realloc(w->syms, len * sizeof *ns);
        if (!ns)
            return HH_ENOMEM;
        w->syms = ns;
        w->syms_cap = len;
    }
    size_t ml = 0;
    for (size_t i = 0; i < len; i++) {
        uint16_t cp = v->byte_to_cp[s[i]];
        w->syms[i] = (sym_t){ (int32_t)ml, cp < 0x80 ? 1 : 2, (int32_t)i - 1, i + 1 < len ? (int32_t)i + 1 : -1,
                              v->byte_tok[s[i]] };
        if (cp < 0x80) {
            w->mapped[ml++] = (char)cp;
        } else {
            w->mapped[ml++] = (char)(0xC0 | (cp >> 6));
            w->mapped[ml++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    if (v->ignore_merges) {
        int32_t id = hh_tokmap_find(v, w->mapped, ml);
        if (id >= 0)
            return hh_idvec_push(out, id);
    }
    int rc;
    w->heap.n = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if ((rc = bpe_push_pair(v, w, (int32_t)i, (int32_t)i + 1)))
            return rc;
    hh_cand_t c;
    while (hh_heap_pop(&w->heap, &c)) {
        sym_t *l = &w->syms[c.l], *r = &w->syms[c.r];
        if (!l->len || !r->len || l->next != c.r || l->id != c.a || r->id != c.b)
            continue;   /* stale: one side merged since */
        const hh_mergeslot_t *m = hh_mergemap_find(v, l->id, r->id);
        l->id = m->result;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->syms[r->next].prev = c.l;
        if ((rc = bpe_push_pair(v, w, l->prev, c.l)) || (rc = bpe_push_pair(v, w, c.l, l->next)))
            return rc;
    }
    for (int32_t i = 0; i >= 0; i = w->syms[i].next) {
        int32_t id = w->syms[i].id >= 0 ? w->syms[i].id : v->unk;
        if (id >= 0 && (rc = hh_idvec_push(out, id)))
            return rc;
    }
    return HH_OK;
}

int hh_tok_bpe_encode(const hh_vocab_t *v, const char *text, size_t len, hh_idvec_t *out)
{
    int rc = HH_OK;
    spanvec_t a = { 0 }, b = { 0 };
    bpe_work_t w = { 0 };
    pcre2_match_data *md = NULL;
    if ((rc = span_push(&a, 0, len)))
        goto cleanup;
    if (v->n_regex) {
        md = pcre2_match_data_create(4, NULL);
        if (!md) {
            rc = HH_ENOMEM;
            goto cleanup;
        }
    }
    for (int i = 0; i < v->n_regex; i++) {
        b.n = 0;
        if ((rc = regex_split(v->regex[i], md, text, &a, &b)))
            goto cleanup;
        spanvec_t t = a;
        a = b;
        b = t;
    }
    for (size_t k = 0; k < a.n; k++) {
        /* Real text repeats its words: a cached pre-token skips the merges. */
        const char *word = text + a.v[k].start;
        size_t wl = a.v[k].len;
        uint64_t hash;
        if ((rc = hh_wcache_get(&w.cache, word, wl, &hash, out)) < 0)
            goto cleanup;
        if (rc == 1) {
            rc = HH_OK;
            continue;
        }
        size_t from = out->n;
        if ((rc = bpe_word(v, &w, (const unsigned char *)word, wl, out)) ||
            (rc = hh_wcache_put(&w.cache, word, wl, hash, out, from)))
            goto cleanup;
    }
cleanup:
    pcre2_match_data_free(md);
    free(a.v);
    free(b.v);
    free(w.mapped);
    free(w.syms);
    free(w.heap.v);
    hh_wcache_free(&w.cache);
    return rc;
}
