/* json_schema.c - compiles the JSON Schema subset documented in grammar.h
 * into a byte grammar (grammar_int.h). Schema nodes are compiled once each
 * (memoized by node), which is also what makes recursive $ref work: a
 * reference to a node being compiled returns its rule id. */
#include "sample/grammar_int.h"

#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNBOUNDED        UINT32_MAX
#define NONE             UINT32_MAX
#define MAX_WS_INDENT    20
#define MAX_INT_DIGITS   20
#define MAX_FRAC_DIGITS  20
#define MAX_EXP_DIGITS   3
#define MAX_PROPERTIES   4096

enum {
    T_OBJECT = 1 << 0, T_ARRAY = 1 << 1, T_STRING = 1 << 2, T_NUMBER = 1 << 3,
    T_INTEGER = 1 << 4, T_BOOLEAN = 1 << 5, T_NULL = 1 << 6,
    T_ALL = (1 << 7) - 1,
};

typedef struct memo_ent {
    const cJSON *node;
    uint32_t     rule;
} memo_ent_t;

typedef struct strlen_ent {
    uint32_t min, max, rule;
} strlen_ent_t;

typedef struct sc {
    gb_t          b;
    const cJSON  *doc;
    memo_ent_t   *memo;        /* open addressing, cap_memo a power of two */
    size_t        n_memo, cap_memo;
    strlen_ent_t *strlens;     /* string rules by (minLength, maxLength) */
    size_t        n_strlens, cap_strlens;
    int           depth;
    char          path[256];   /* location of the schema node being compiled, for messages */
    size_t        path_len;
    uint32_t      r_ws, r_value, r_char, r_number, r_integer, r_digits[MAX_INT_DIGITS + 1];
} sc_t;

static const char *const ANNOTATIONS[] = {
    "title", "description", "$schema", "$id", "$comment", "default", "examples", "format",
    "deprecated", "readOnly", "writeOnly", "$defs", "definitions",
};
static const char *const KEYWORDS[] = {
    "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
    "minLength", "maxLength", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "nullable",
    "uniqueItems",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool is_annotation(const char *k)
{
    return in_list(k, ANNOTATIONS, sizeof ANNOTATIONS / sizeof *ANNOTATIONS);
}

/* ---- location path ------------------------------------------------------ */

static size_t path_push(sc_t *c, const char *a, const char *b)
{
    size_t saved = c->path_len;
    int w = snprintf(c->path + c->path_len, sizeof c->path - c->path_len, "/%s%s%s", a, b ? "/" : "", b ? b : "");
    if (w > 0)
        c->path_len += (size_t)w < sizeof c->path - c->path_len ? (size_t)w : sizeof c->path - c->path_len - 1;
    return saved;
}

static void path_pop(sc_t *c, size_t saved)
{
    c->path_len = saved;
    c->path[saved] = '\0';
}

static const char *where(const sc_t *c)
{
    return c->path_len ? c->path : "/";
}

/* ---- memo --------------------------------------------------------------- */

static size_t memo_slot(const sc_t *c, const cJSON *node)
{
    uintptr_t h = (uintptr_t)node;
    h ^= h >> 17;
    h *= (uintptr_t)0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 7) & (c->cap_memo - 1);
}

static uint32_t memo_get(const sc_t *c, const cJSON *node)
{
    if (!c->cap_memo)
        return NONE;
    for (size_t i = memo_slot(c, node);; i = (i + 1) & (c->cap_memo - 1)) {
        if (c->memo[i].node == node)
            return c->memo[i].rule;
        if (!c->memo[i].node)
            return NONE;
    }
}

static void memo_put(sc_t *c, const cJSON *node, uint32_t rule)
{
    if ((c->n_memo + 1) * 2 > c->cap_memo) {
        size_t nc = c->cap_memo ? c->cap_memo * 2 : 64;
        memo_ent_t *old = c->memo;
        size_t oc = c->cap_memo;
        c->memo = calloc(nc, sizeof *c->memo);
        if (!c->memo) {
            c->memo = old;
            gb_fail(&c->b, HH_ENOMEM, "out of memory compiling schema");
            return;
        }
        c->cap_memo = nc;
        for (size_t i = 0; i < oc; i++)
            if (old[i].node) {
                size_t j = memo_slot(c, old[i].node);
                while (c->memo[j].node)
                    j = (j + 1) & (nc - 1);
                c->memo[j] = old[i];
            }
        free(old);
    }
    size_t j = memo_slot(c, node);
    while (c->memo[j].node)
        j = (j + 1) & (c->cap_memo - 1);
    c->memo[j] = (memo_ent_t){ node, rule };
    c->n_memo++;
}

/* ---- building blocks ---------------------------------------------------- */

/* ws ::= "" | " " | "\n" [ \t]{0,20} */
static uint32_t rule_ws(sc_t *c)
{
    if (c->r_ws != NONE)
        return c->r_ws;
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t ind = gb_rule_new(b);   /* 0 more indent bytes allowed */
    gb_alt(b, ind, &s);
    for (int k = 1; k <= MAX_WS_INDENT; k++) {
        uint32_t r = gb_rule_new(b);
        gb_alt(b, r, &s);
        gb_byteset_t set = { { 0, 0, 0, 0 } };
        set.w[0] = (1ull << ' ') | (1ull << '\t');
        gb_seq_set(b, &s, &set);
        gb_seq_ref(b, &s, ind);
        gb_alt(b, r, &s);
        ind = r;
    }
    uint32_t ws = gb_rule_new(b);
    gb_alt(b, ws, &s);
    gb_seq_byte(b, &s, ' ');
    gb_alt(b, ws, &s);
    gb_seq_byte(b, &s, '\n');
    gb_seq_ref(b, &s, ind);
    gb_alt(b, ws, &s);
    return c->r_ws = ws;
}

/* One character of a JSON string body: unescaped valid UTF-8 other than
 * '"', '\\' and controls, or an escape whose decoded value is not a
 * surrogate (so the decoded string is valid UTF-8 too). */
static uint32_t rule_char(sc_t *c)
{
    if (c->r_char != NONE)
        return c->r_char;
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t ch = gb_rule_new(b);
    gb_byteset_t plain = { { 0, 0, 0, 0 } };
    for (unsigned x = 0x20; x < 0x80; x++)
        if (x != '"' && x != '\\')
            plain.w[x >> 6] |= 1ull << (x & 63);
    gb_seq_set(b, &s, &plain);
    gb_alt(b, ch, &s);
    gb_seq_range(b, &s, 0xC2, 0xDF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_alt(b, ch, &s);
    gb_seq_byte(b, &s, 0xE0);
    gb_seq_range(b, &s, 0xA0, 0xBF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_alt(b, ch, &s);
    gb_byteset_t e3 = { { 0, 0, 0, 0 } };   /* E1-EC, EE-EF */
    for (unsigned x = 0xE1; x <= 0xEF; x++)
        if (x != 0xED)
            e3.w[x >> 6] |= 1ull << (x & 63);
    gb_seq_set(b, &s, &e3);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_alt(b, ch, &s);
    gb_seq_byte(b, &s, 0xED);
    gb_seq_range(b, &s, 0x80, 0x9F);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_alt(b, ch, &s);
    gb_seq_byte(b, &s, 0xF0);
    gb_seq_range(b, &s, 0x90, 0xBF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_alt(b, ch, &s);
    gb_seq_range(b, &s, 0xF1, 0xF3);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_alt(b, ch, &s);
    gb_seq_byte(b, &s, 0xF4);
    gb_seq_range(b, &s, 0x80, 0x8F);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_seq_range(b, &s, 0x80, 0xBF);
    gb_alt(b, ch, &s);

    gb_byteset_t hex = { { 0, 0, 0, 0 } }, esc = { { 0, 0, 0, 0 } };
    const char *hx = "0123456789abcdefABCDEF", *es = "\"\\/bfnrt";
    for (const char *p = hx; *p; p++)
        hex.w[(uint8_t)*p >> 6] |= 1ull << ((uint8_t)*p & 63);
    for (const char *p = es; *p; p++)
        esc.w[(uint8_t)*p >> 6] |= 1ull << ((uint8_t)*p & 63);
    /* one '\\' alternative, so an escape costs one parse stack, not three:
     * esc ::= ["\\/bfnrt] | "u" XXXX with XXXX outside D800-DFFF */
    uint32_t er = gb_rule_new(b);
    gb_seq_set(b, &s, &esc);
    gb_alt(b, er, &s);
    gb_byteset_t nd = hex;   /* first digit not d/D, or d/D then 0-7 */
    nd.w['d' >> 6] &= ~(1ull << ('d' & 63));
    nd.w['D' >> 6] &= ~(1ull << ('D' & 63));
    gb_seq_byte(b, &s, 'u');
    gb_seq_set(b, &s, &nd);
    gb_seq_set(b, &s, &hex);
    gb_seq_set(b, &s, &hex);
    gb_seq_set(b, &s, &hex);
    gb_alt(b, er, &s);
    gb_byteset_t d = { { 0, 0, 0, 0 } };
    d.w['d' >> 6] |= 1ull << ('d' & 63);
    d.w['D' >> 6] |= 1ull << ('D' & 63);
    gb_seq_byte(b, &s, 'u');
    gb_seq_set(b, &s, &d);
    gb_seq_range(b, &s, '0', '7');
    gb_seq_set(b, &s, &hex);
    gb_seq_set(b, &s, &hex);
    gb_alt(b, er, &s);
    gb_seq_byte(b, &s, '\\');
    gb_seq_ref(b, &s, er);
    gb_alt(b, ch, &s);
    return c->r_char = ch;
}

/* A list of min..max units (max UNBOUNDED allowed). comma: units are
 * "unit ws" separated by "," ws (array items, object members); otherwise
 * units follow each other directly (string characters). */
static uint32_t rule_repeat(sc_t *c, uint32_t unit, bool comma, uint32_t min, uint32_t max)
{
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t ws = comma ? rule_ws(c) : NONE;
#define UNIT(seq) do { if (comma) gb_seq_byte(b, (seq), ','), gb_seq_ref(b, (seq), ws); } while (0)
#define BODY(seq) do { gb_seq_ref(b, (seq), unit); if (comma) gb_seq_ref(b, (seq), ws); } while (0)
    uint32_t list = gb_rule_new(b);
    if (max == 0) {
        gb_alt(b, list, &s);
        return list;
    }
    /* next = continuation after j units (built from the top down) */
    uint32_t next;
    uint32_t top = max == UNBOUNDED ? (min > 1 ? min : 1) : max;
    if (max == UNBOUNDED) {
        next = gb_rule_new(b);                 /* star ::= "" | sep unit star */
        gb_alt(b, next, &s);
        UNIT(&s);
        BODY(&s);
        gb_seq_ref(b, &s, next);
        gb_alt(b, next, &s);
    } else {
        next = gb_rule_new(b);                 /* after max units: nothing more */
        gb_alt(b, next, &s);
    }
    for (uint32_t j = top - 1; j >= 1 && b->rc >= 0; j--) {
        uint32_t r = gb_rule_new(b);
        if (j >= min)
            gb_alt(b, r, &s);
        UNIT(&s);
        BODY(&s);
        gb_seq_ref(b, &s, next);
        gb_alt(b, r, &s);
        next = r;
    }
    if (min == 0)
        gb_alt(b, list, &s);
    BODY(&s);
    gb_seq_ref(b, &s, next);
    gb_alt(b, list, &s);
#undef UNIT
#undef BODY
    return list;
}

static uint32_t rule_string(sc_t *c, uint32_t min, uint32_t max)
{
    for (size_t i = 0; i < c->n_strlens; i++)
        if (c->strlens[i].min == min && c->strlens[i].max == max)
            return c->strlens[i].rule;
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t body = rule_repeat(c, rule_char(c), false, min, max);
    uint32_t str = gb_rule_new(b);
    gb_seq_byte(b, &s, '"');
    gb_seq_ref(b, &s, body);
    gb_seq_byte(b, &s, '"');
    gb_alt(b, str, &s);
    if (b->rc < 0)
        return str;
    if (c->n_strlens == c->cap_strlens) {
        size_t nc = c->cap_strlens ? c->cap_strlens * 2 : 8;
        strlen_ent_t *q = realloc(c->strlens, nc * sizeof *q);
        if (!q) {
            gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
            return str;
        }
        c->strlens = q;
        c->cap_strlens = nc;
    }
    c->strlens[c->n_strlens++] = (strlen_ent_t){ min, max, str };
    return str;
}

/* Up to k decimal digits. */
static uint32_t rule_digits(sc_t *c, int k)
{
    if (c->r_digits[k] != NONE)
        return c->r_digits[k];
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t r = gb_rule_new(b);
    gb_alt(b, r, &s);
    if (k > 0) {
        gb_seq_range(b, &s, '0', '9');
        gb_seq_ref(b, &s, rule_digits(c, k - 1));
        gb_alt(b, r, &s);
    }
    return c->r_digits[k] = r;
}

/* "-"? ("0" | [1-9][0-9]{0,19}) */
static uint32_t rule_integer(sc_t *c)
{
    if (c->r_integer != NONE)
        return c->r_integer;
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t mag = gb_rule_new(b);
    gb_seq_byte(b, &s, '0');
    gb_alt(b, mag, &s);
    gb_seq_range(b, &s, '1', '9');
    gb_seq_ref(b, &s, rule_digits(c, MAX_INT_DIGITS - 1));
    gb_alt(b, mag, &s);
    uint32_t r = gb_rule_new(b);
    gb_seq_ref(b, &s, mag);
    gb_alt(b, r, &s);
    gb_seq_byte(b, &s, '-');
    gb_seq_ref(b, &s, mag);
    gb_alt(b, r, &s);
    return c->r_integer = r;
}

/* integer ("." [0-9]{1,20})? ([eE] [+-]? [0-9]{1,3})? */
static uint32_t rule_number(sc_t *c)
{
    if (c->r_number != NONE)
        return c->r_number;
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t frac = gb_rule_new(b);
    gb_alt(b, frac, &s);
    gb_seq_byte(b, &s, '.');
    gb_seq_range(b, &s, '0', '9');
    gb_seq_ref(b, &s, rule_digits(c, MAX_FRAC_DIGITS - 1));
    gb_alt(b, frac, &s);
    uint32_t sign = gb_rule_new(b);
    gb_alt(b, sign, &s);
    gb_byteset_t pm = { { (1ull << '+') | (1ull << '-'), 0, 0, 0 } };
    gb_seq_set(b, &s, &pm);
    gb_alt(b, sign, &s);
    uint32_t exp = gb_rule_new(b);
    gb_alt(b, exp, &s);
    gb_byteset_t e = { { 0, 0, 0, 0 } };
    e.w['e' >> 6] |= 1ull << ('e' & 63);
    e.w['E' >> 6] |= 1ull << ('E' & 63);
    gb_seq_set(b, &s, &e);
    gb_seq_ref(b, &s, sign);
    gb_seq_range(b, &s, '0', '9');
    gb_seq_ref(b, &s, rule_digits(c, MAX_EXP_DIGITS - 1));
    gb_alt(b, exp, &s);
    uint32_t r = gb_rule_new(b);
    gb_seq_ref(b, &s, rule_integer(c));
    gb_seq_ref(b, &s, frac);
    gb_seq_ref(b, &s, exp);
    gb_alt(b, r, &s);
    return c->r_number = r;
}

static uint32_t rule_literal(sc_t *c, const char *lit)
{
    gb_seq_t s = { 0 };
    uint32_t r = gb_rule_new(&c->b);
    gb_seq_lit(&c->b, &s, lit, strlen(lit));
    gb_alt(&c->b, r, &s);
    return r;
}

/* "{" ws (member ("," ws member)*)? "}" with member = string ws ":" ws val ws */
static uint32_t rule_object_of(sc_t *c, uint32_t val)
{
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t ws = rule_ws(c);
    uint32_t kv = gb_rule_new(b);
    gb_seq_ref(b, &s, rule_string(c, 0, UNBOUNDED));
    gb_seq_ref(b, &s, ws);
    gb_seq_byte(b, &s, ':');
    gb_seq_ref(b, &s, ws);
    gb_seq_ref(b, &s, val);
    gb_alt(b, kv, &s);
    uint32_t members = rule_repeat(c, kv, true, 0, UNBOUNDED);
    uint32_t r = gb_rule_new(b);
    gb_seq_byte(b, &s, '{');
    gb_seq_ref(b, &s, ws);
    gb_seq_ref(b, &s, members);
    gb_seq_byte(b, &s, '}');
    gb_alt(b, r, &s);
    return r;
}

static uint32_t rule_array_of(sc_t *c, uint32_t item, uint32_t min, uint32_t max)
{
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t items = rule_repeat(c, item, true, min, max);
    uint32_t r = gb_rule_new(b);
    gb_seq_byte(b, &s, '[');
    gb_seq_ref(b, &s, rule_ws(c));
    gb_seq_ref(b, &s, items);
    gb_seq_byte(b, &s, ']');
    gb_alt(b, r, &s);
    return r;
}

/* Any JSON value. */
static uint32_t rule_value(sc_t *c)
{
    if (c->r_value != NONE)
        return c->r_value;
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t v = c->r_value = gb_rule_new(b);   /* set first: objects and arrays refer back */
    uint32_t parts[7] = {
        rule_object_of(c, v), rule_array_of(c, v, 0, UNBOUNDED), rule_string(c, 0, UNBOUNDED),
        rule_number(c), rule_literal(c, "true"), rule_literal(c, "false"), rule_literal(c, "null"),
    };
    for (int i = 0; i < 7; i++) {
        gb_seq_ref(b, &s, parts[i]);
        gb_alt(b, v, &s);
    }
    return v;
}

/* ---- literal sets (enum, const) ----------------------------------------- */

typedef struct lit {
    char  *s;
    size_t n;
} lit_t;

static int cmp_lit(const void *a, const void *b)
{
    const lit_t *x = a, *y = b;
    int r = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    if (r)
        return r;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Rule matching exactly the strings lits[lo, hi) (sorted, distinct, sharing
 * their first depth bytes), left-factored as a trie so that a large enum
 * costs one parse stack, not one per value. */
static uint32_t rule_lit_trie(sc_t *c, const lit_t *lits, size_t lo, size_t hi, size_t depth)
{
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    uint32_t r = gb_rule_new(b);
    size_t i = lo;
    if (i < hi && lits[i].n == depth) {
        gb_alt(b, r, &s);
        i++;
    }
    while (i < hi && b->rc >= 0) {
        uint8_t ch = (uint8_t)lits[i].s[depth];
        size_t j = i + 1;
        while (j < hi && (uint8_t)lits[j].s[depth] == ch)
            j++;
        /* common prefix of the group = that of its first and last member */
        size_t p = depth + 1, lim = lits[i].n < lits[j - 1].n ? lits[i].n : lits[j - 1].n;
        while (p < lim && lits[i].s[p] == lits[j - 1].s[p])
            p++;
        gb_seq_lit(b, &s, lits[i].s + depth, p - depth);
        if (!(j - i == 1 && lits[i].n == p))
            gb_seq_ref(b, &s, rule_lit_trie(c, lits, i, j, p));
        gb_alt(b, r, &s);
        i = j;
    }
    return r;
}

static int json_type_of(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return T_OBJECT;
    if (cJSON_IsArray(v))
        return T_ARRAY;
    if (cJSON_IsString(v))
        return T_STRING;
    if (cJSON_IsBool(v))
        return T_BOOLEAN;
    if (cJSON_IsNull(v))
        return T_NULL;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        return isfinite(d) && d == floor(d) && fabs(d) < 1e18 ? T_NUMBER | T_INTEGER : T_NUMBER;
    }
    return 0;
}

/* Alternatives for the values of an enum/const (one value when single),
 * keeping those whose type is in types. Adds one alternative to rule. */
static void add_enum(sc_t *c, uint32_t rule, const cJSON *values, bool single, int types)
{
    gb_t *b = &c->b;
    size_t n = single ? 1 : (size_t)cJSON_GetArraySize(values), k = 0;
    lit_t *lits = calloc(n ? n : 1, sizeof *lits);
    if (!lits) {
        gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
        return;
    }
    const cJSON *v = single ? values : values->child;
    for (size_t i = 0; i < n && v; i++, v = single ? NULL : v->next) {
        if (!(json_type_of(v) & types))
            continue;
        char *txt = cJSON_PrintUnformatted(v);
        if (!txt) {
            gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
            break;
        }
        lits[k].s = txt;
        lits[k].n = strlen(txt);
        k++;
    }
    if (b->rc >= 0 && k > 0) {
        qsort(lits, k, sizeof *lits, cmp_lit);
        size_t w = 1;   /* drop duplicates */
        for (size_t i = 1; i < k; i++) {
            if (cmp_lit(&lits[i], &lits[w - 1]) == 0)
                free(lits[i].s);
            else
                lits[w++] = lits[i];
        }
        k = w;
        gb_seq_t s = { 0 };
        gb_seq_ref(b, &s, rule_lit_trie(c, lits, 0, k, 0));
        gb_alt(b, rule, &s);
    }
    for (size_t i = 0; i < k; i++)
        free(lits[i].s);
    free(lits);
}

/* ---- member names that are not listed ----------------------------------- */

#define MAX_NAME_BYTES 256

static void set_ascii_plain(gb_byteset_t *set)
{
    memset(set, 0, sizeof *set);
    for (unsigned x = 0x20; x < 0x7F; x++)
        if (x != '"' && x != '\\')
            set->w[x >> 6] |= 1ull << (x & 63);
}

/* Rest of a key after diverging from every listed name: plain ASCII, then '"'. */
static uint32_t rule_ascii_tail(sc_t *c)
{
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    gb_byteset_t plain;
    set_ascii_plain(&plain);
    uint32_t r = gb_rule_new(b);
    gb_seq_byte(b, &s, '"');
    gb_alt(b, r, &s);
    gb_seq_set(b, &s, &plain);
    gb_seq_ref(b, &s, r);
    gb_alt(b, r, &s);
    return r;
}

/* Key bodies (after the opening quote, through the closing one) that are
 * none of names[lo, hi) (sorted, distinct, sharing depth bytes): a trie
 * that may leave the listed names at any byte. */
static uint32_t rule_not_names(sc_t *c, const lit_t *names, size_t lo, size_t hi, size_t depth, uint32_t tail)
{
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    gb_byteset_t other;
    set_ascii_plain(&other);
    uint32_t r = gb_rule_new(b);
    size_t i = lo;
    if (i < hi && names[i].n == depth)
        i++;               /* this prefix is a listed name: it may not end here */
    else {
        gb_seq_byte(b, &s, '"');
        gb_alt(b, r, &s);
    }
    while (i < hi && b->rc >= 0) {
        uint8_t ch = (uint8_t)names[i].s[depth];
        size_t j = i + 1;
        while (j < hi && (uint8_t)names[j].s[depth] == ch)
            j++;
        other.w[ch >> 6] &= ~(1ull << (ch & 63));
        gb_seq_byte(b, &s, ch);
        gb_seq_ref(b, &s, rule_not_names(c, names, i, j, depth + 1, tail));
        gb_alt(b, r, &s);
        i = j;
    }
    gb_seq_set(b, &s, &other);
    gb_seq_ref(b, &s, tail);
    gb_alt(b, r, &s);
    return r;
}

/* A JSON string that is not one of the n listed names. Such keys are
 * restricted to unescaped printable ASCII, so the text compared is the
 * decoded name (an escape could otherwise spell a listed name). */
static uint32_t rule_other_key(sc_t *c, const char *const *names, size_t n)
{
    gb_t *b = &c->b;
    lit_t *lits = calloc(n ? n : 1, sizeof *lits);
    if (!lits) {
        gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
        return 0;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        bool plain = true;
        for (size_t j = 0; j < len && plain; j++)
            plain = (uint8_t)names[i][j] >= 0x20 && (uint8_t)names[i][j] < 0x7F && names[i][j] != '"' &&
                    names[i][j] != '\\';
        if (!plain)
            continue;      /* cannot equal an unescaped ASCII key */
        if (len > MAX_NAME_BYTES) {
            gb_fail(b, HH_ERANGE, "property name at %s is longer than %d bytes", where(c), MAX_NAME_BYTES);
            free(lits);
            return 0;
        }
        lits[k].s = (char *)names[i];
        lits[k].n = len;
        k++;
    }
    qsort(lits, k, sizeof *lits, cmp_lit);
    gb_seq_t s = { 0 };
    uint32_t r = gb_rule_new(b);
    gb_seq_byte(b, &s, '"');
    gb_seq_ref(b, &s, rule_not_names(c, lits, 0, k, 0, rule_ascii_tail(c)));
    gb_alt(b, r, &s);
    free(lits);
    return r;
}

/* ---- schema nodes ------------------------------------------------------- */

static uint32_t compile_schema(sc_t *c, const cJSON *node);

/* Reads an optional non-negative integer keyword; def when absent. */
static uint32_t get_count(sc_t *c, const cJSON *node, const char *key, uint32_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, key);
    if (!v)
        return def;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble != floor(v->valuedouble)) {
        gb_fail(&c->b, HH_EFORMAT, "\"%s\" at %s must be a non-negative integer", key, where(c));
        return def;
    }
    if (v->valuedouble > HH_GRAMMAR_MAX_REPEAT) {
        gb_fail(&c->b, HH_ERANGE, "\"%s\" at %s is %.0f; at most %u is supported", key, where(c), v->valuedouble,
                HH_GRAMMAR_MAX_REPEAT);
        return def;
    }
    return (uint32_t)v->valuedouble;
}

static int parse_type_name(const char *t)
{
    static const struct { const char *name; int bit; } names[] = {
        { "object", T_OBJECT }, { "array", T_ARRAY }, { "string", T_STRING }, { "number", T_NUMBER },
        { "integer", T_INTEGER }, { "boolean", T_BOOLEAN }, { "null", T_NULL },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(t, names[i].name) == 0)
            return names[i].bit;
    return 0;
}

/* Resolves a local JSON pointer ("#", "#/a/b~1c/0"). */
static const cJSON *resolve_ref(sc_t *c, const char *ref)
{
    if (ref[0] != '#') {
        gb_fail(&c->b, HH_EUNSUPPORTED, "$ref \"%.100s\" at %s: only local references (\"#/...\") are supported", ref,
                where(c));
        return NULL;
    }
    const cJSON *cur = c->doc;
    const char *p = ref + 1;
    char seg[256];
    while (*p) {
        if (*p != '/')
            goto bad;
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            char ch = *p++;
            if (ch == '~') {
                if (*p == '0')
                    ch = '~';
                else if (*p == '1')
                    ch = '/';
                else
                    goto bad;
                p++;
            }
            if (n + 1 >= sizeof seg)
                goto bad;
            seg[n++] = ch;
        }
        seg[n] = '\0';
        if (cJSON_IsObject(cur))
            cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
        else if (cJSON_IsArray(cur)) {
            char *end;
            long idx = strtol(seg, &end, 10);
            cur = (n > 0 && *end == '\0' && idx >= 0 && idx < cJSON_GetArraySize(cur)) ? cJSON_GetArrayItem(cur, (int)idx)
                                                                                      : NULL;
        } else
            cur = NULL;
        if (!cur)
            goto bad;
    }
    return cur;
bad:
    gb_fail(&c->b, HH_EINVAL, "$ref \"%.100s\" at %s does not resolve", ref, where(c));
    return NULL;
}

/* Fails if node has a keyword other than annotations and those in allowed. */
static bool only_keywords(sc_t *c, const cJSON *node, const char *what, const char *const *allowed, size_t n)
{
    for (const cJSON *k = node->child; k; k = k->next)
        if (!is_annotation(k->string) && strcmp(k->string, what) != 0 && !in_list(k->string, allowed, n)) {
            gb_fail(&c->b, HH_EUNSUPPORTED, "\"%s\" together with \"%s\" at %s is not supported", what, k->string,
                    where(c));
            return false;
        }
    return true;
}

/* The object alternative of node (properties, required, additionalProperties). */
static uint32_t compile_object(sc_t *c, const cJSON *node)
{
    gb_t *b = &c->b;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(node, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(node, "required");
    const cJSON *addl = cJSON_GetObjectItemCaseSensitive(node, "additionalProperties");
    if (props && !cJSON_IsObject(props)) {
        gb_fail(b, HH_EFORMAT, "\"properties\" at %s must be an object", where(c));
        return 0;
    }
    if (req && !cJSON_IsArray(req)) {
        gb_fail(b, HH_EFORMAT, "\"required\" at %s must be an array", where(c));
        return 0;
    }
    if (addl && !cJSON_IsBool(addl) && !cJSON_IsObject(addl)) {
        gb_fail(b, HH_EFORMAT, "\"additionalProperties\" at %s must be a boolean or a schema", where(c));
        return 0;
    }
    size_t n_props = (size_t)(props ? cJSON_GetArraySize(props) : 0);
    size_t n_req = (size_t)(req ? cJSON_GetArraySize(req) : 0);
    if (n_props + n_req > MAX_PROPERTIES) {
        gb_fail(b, HH_ERANGE, "object at %s has more than %d properties", where(c), MAX_PROPERTIES);
        return 0;
    }
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
        if (!cJSON_IsString(r)) {
            gb_fail(b, HH_EFORMAT, "\"required\" at %s must list strings", where(c));
            return 0;
        }
    if (!props && !req) {   /* members of any name */
        uint32_t val = (!addl || cJSON_IsTrue(addl)) ? rule_value(c) : NONE;
        if (cJSON_IsObject(addl)) {
            size_t saved = path_push(c, "additionalProperties", NULL);
            val = compile_schema(c, addl);
            path_pop(c, saved);
        }
        if (val == NONE)
            return rule_literal(c, "{}");   /* additionalProperties: false */
        return rule_object_of(c, val);
    }

    /* members in order: the listed properties, then required names not listed */
    typedef struct { const char *name; uint32_t rule; bool required; } member_t;
    member_t *m = calloc(n_props + n_req + 1, sizeof *m);
    uint32_t *first = NULL, *rest = NULL;
    if (!m) {
        gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
        return 0;
    }
    size_t n = 0;
    uint32_t result = 0;
    for (const cJSON *p = props ? props->child : NULL; p && b->rc >= 0; p = p->next) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(m[i].name, p->string) == 0) {
                gb_fail(b, HH_EFORMAT, "property \"%.100s\" listed twice at %s", p->string, where(c));
                goto cleanup;
            }
        size_t saved = path_push(c, "properties", p->string);
        m[n].name = p->string;
        m[n].rule = compile_schema(c, p);
        path_pop(c, saved);
        n++;
    }
    for (const cJSON *r = req ? req->child : NULL; r && b->rc >= 0; r = r->next) {
        size_t i = 0;
        while (i < n && strcmp(m[i].name, r->valuestring) != 0)
            i++;
        if (i == n) {
            m[n].name = r->valuestring;
            m[n].rule = rule_value(c);
            n++;
        }
        m[i].required = true;
    }
    uint32_t extra = NONE;
    if (cJSON_IsTrue(addl))
        extra = rule_value(c);
    else if (cJSON_IsObject(addl)) {
        size_t saved = path_push(c, "additionalProperties", NULL);
        extra = compile_schema(c, addl);
        path_pop(c, saved);
    }
    if (b->rc < 0)
        goto cleanup;

    uint32_t ws = rule_ws(c);
    gb_seq_t s = { 0 };
    first = malloc((n + 1) * sizeof *first);
    rest = malloc((n + 1) * sizeof *rest);
    if (!first || !rest) {
        gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
        goto cleanup;
    }
    /* first[i]: members i.. when none was written yet; rest[i]: after one was
     * (so each starts with ","). Extra members come last. */
    first[n] = gb_rule_new(b);
    rest[n] = gb_rule_new(b);
    if (extra == NONE) {
        gb_alt(b, first[n], &s);
        gb_alt(b, rest[n], &s);
    } else {
        const char **names = malloc((n + 1) * sizeof *names);
        if (!names) {
            gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++)
            names[i] = m[i].name;
        uint32_t key = rule_other_key(c, names, n);   /* no listed name twice */
        free(names);
        uint32_t kv = gb_rule_new(b);
        gb_seq_ref(b, &s, key);
        gb_seq_ref(b, &s, ws);
        gb_seq_byte(b, &s, ':');
        gb_seq_ref(b, &s, ws);
        gb_seq_ref(b, &s, extra);
        gb_seq_ref(b, &s, ws);
        gb_alt(b, kv, &s);
        gb_alt(b, rest[n], &s);                 /* rest ::= "" | "," ws kv rest */
        gb_seq_byte(b, &s, ',');
        gb_seq_ref(b, &s, ws);
        gb_seq_ref(b, &s, kv);
        gb_seq_ref(b, &s, rest[n]);
        gb_alt(b, rest[n], &s);
        gb_alt(b, first[n], &s);                /* first ::= "" | kv rest */
        gb_seq_ref(b, &s, kv);
        gb_seq_ref(b, &s, rest[n]);
        gb_alt(b, first[n], &s);
    }
    for (size_t i = n; i-- > 0 && b->rc >= 0;) {
        cJSON *key = cJSON_CreateString(m[i].name);
        char *klit = key ? cJSON_PrintUnformatted(key) : NULL;
        cJSON_Delete(key);
        if (!klit) {
            gb_fail(b, HH_ENOMEM, "out of memory compiling schema");
            goto cleanup;
        }
        uint32_t kv = gb_rule_new(b);
        gb_seq_lit(b, &s, klit, strlen(klit));
        free(klit);
        gb_seq_ref(b, &s, ws);
        gb_seq_byte(b, &s, ':');
        gb_seq_ref(b, &s, ws);
        gb_seq_ref(b, &s, m[i].rule);
        gb_seq_ref(b, &s, ws);
        gb_alt(b, kv, &s);
        rest[i] = gb_rule_new(b);
        gb_seq_byte(b, &s, ',');
        gb_seq_ref(b, &s, ws);
        gb_seq_ref(b, &s, kv);
        gb_seq_ref(b, &s, rest[i + 1]);
        gb_alt(b, rest[i], &s);
        first[i] = gb_rule_new(b);
        gb_seq_ref(b, &s, kv);
        gb_seq_ref(b, &s, rest[i + 1]);
        gb_alt(b, first[i], &s);
        if (!m[i].required) {
            gb_seq_ref(b, &s, rest[i + 1]);
            gb_alt(b, rest[i], &s);
            gb_seq_ref(b, &s, first[i + 1]);
            gb_alt(b, first[i], &s);
        }
    }
    result = gb_rule_new(b);
    gb_seq_byte(b, &s, '{');
    gb_seq_ref(b, &s, ws);
    gb_seq_ref(b, &s, first[0]);
    gb_seq_byte(b, &s, '}');
    gb_alt(b, result, &s);
cleanup:
    free(m);
    free(first);
    free(rest);
    return result;
}

static uint32_t compile_array(sc_t *c, const cJSON *node)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(node, "items");
    uint32_t min = get_count(c, node, "minItems", 0);
    uint32_t max = get_count(c, node, "maxItems", UNBOUNDED);
    if (c->b.rc < 0)
        return 0;
    if (min > max) {
        gb_fail(&c->b, HH_EINVAL, "minItems > maxItems at %s: no array satisfies the schema", where(c));
        return 0;
    }
    if (items && cJSON_IsArray(items)) {
        gb_fail(&c->b, HH_EUNSUPPORTED, "\"items\" as an array (tuple) at %s is not supported", where(c));
        return 0;
    }
    uint32_t item;
    if (items) {
        size_t saved = path_push(c, "items", NULL);
        item = compile_schema(c, items);
        path_pop(c, saved);
    } else
        item = rule_value(c);
    return rule_array_of(c, item, min, max);
}

/* Compiles node's keywords into alternatives of rule. */
static void compile_body(sc_t *c, const cJSON *node, uint32_t rule)
{
    gb_t *b = &c->b;
    gb_seq_t s = { 0 };
    for (const cJSON *k = node->child; k; k = k->next)
        if (!is_annotation(k->string) && !in_list(k->string, KEYWORDS, sizeof KEYWORDS / sizeof *KEYWORDS)) {
            gb_fail(b, HH_EUNSUPPORTED, "keyword \"%.100s\" at %s is not supported", k->string, where(c));
            return;
        }

    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(node, "$ref");
    if (ref) {
        if (!cJSON_IsString(ref)) {
            gb_fail(b, HH_EFORMAT, "\"$ref\" at %s must be a string", where(c));
            return;
        }
        if (!only_keywords(c, node, "$ref", NULL, 0))
            return;
        const cJSON *target = resolve_ref(c, ref->valuestring);
        if (!target)
            return;
        size_t saved = path_push(c, "$ref", NULL);
        gb_seq_ref(b, &s, compile_schema(c, target));
        path_pop(c, saved);
        gb_alt(b, rule, &s);
        return;
    }

    static const char *const combiners[] = { "anyOf", "oneOf", "allOf" };
    for (int i = 0; i < 3; i++) {
        const cJSON *alts = cJSON_GetObjectItemCaseSensitive(node, combiners[i]);
        if (!alts)
            continue;
        if (!cJSON_IsArray(alts) || cJSON_GetArraySize(alts) == 0) {
            gb_fail(b, HH_EFORMAT, "\"%s\" at %s must be a non-empty array", combiners[i], where(c));
            return;
        }
        if (!only_keywords(c, node, combiners[i], NULL, 0))
            return;
        if (i == 2 && cJSON_GetArraySize(alts) != 1) {
            gb_fail(b, HH_EUNSUPPORTED, "\"allOf\" at %s with more than one member is not supported", where(c));
            return;
        }
        int idx = 0;
        for (const cJSON *a = alts->child; a && b->rc >= 0; a = a->next, idx++) {
            char num[16];
            snprintf(num, sizeof num, "%d", idx);
            size_t saved = path_push(c, combiners[i], num);
            gb_seq_ref(b, &s, compile_schema(c, a));
            path_pop(c, saved);
            gb_alt(b, rule, &s);
        }
        return;
    }

    /* the types this node may produce */
    int types = 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "type");
    if (cJSON_IsString(type)) {
        types = parse_type_name(type->valuestring);
        if (!types) {
            gb_fail(b, HH_EFORMAT, "unknown type \"%.100s\" at %s", type->valuestring, where(c));
            return;
        }
    } else if (cJSON_IsArray(type)) {
        for (const cJSON *t = type->child; t; t = t->next) {
            int bit = cJSON_IsString(t) ? parse_type_name(t->valuestring) : 0;
            if (!bit) {
                gb_fail(b, HH_EFORMAT, "\"type\" at %s lists an unknown type", where(c));
                return;
            }
            types |= bit;
        }
    } else if (type) {
        gb_fail(b, HH_EFORMAT, "\"type\" at %s must be a string or an array of strings", where(c));
        return;
    }
    const cJSON *nullable = cJSON_GetObjectItemCaseSensitive(node, "nullable");
    if (nullable && !cJSON_IsBool(nullable)) {
        gb_fail(b, HH_EFORMAT, "\"nullable\" at %s must be a boolean", where(c));
        return;
    }
    const cJSON *uniq = cJSON_GetObjectItemCaseSensitive(node, "uniqueItems");
    if (uniq && !cJSON_IsFalse(uniq)) {
        gb_fail(b, HH_EUNSUPPORTED, "\"uniqueItems\": true at %s is not supported", where(c));
        return;
    }

    const cJSON *en = cJSON_GetObjectItemCaseSensitive(node, "enum");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(node, "const");
    if (en || cn) {
        static const char *const with[] = { "type", "nullable", "enum", "const" };
        if (!only_keywords(c, node, en ? "enum" : "const", with, 4))
            return;
        if (en && !cJSON_IsArray(en)) {
            gb_fail(b, HH_EFORMAT, "\"enum\" at %s must be an array", where(c));
            return;
        }
        int allowed = types ? types : T_ALL;
        if (types & T_NUMBER)
            allowed |= T_INTEGER;
        if (cJSON_IsTrue(nullable))
            allowed |= T_NULL;
        if (en && cn) {   /* both: const, if the enum contains it */
            bool found = false;
            for (const cJSON *v = en->child; v && !found; v = v->next)
                found = cJSON_Compare(v, cn, true);
            if (found)
                add_enum(c, rule, cn, true, allowed);
        } else
            add_enum(c, rule, en ? en : cn, cn != NULL, allowed);
        return;   /* no alternative added: the schema admits nothing here */
    }

    if (!types) {   /* infer from the keywords present */
        static const char *const obj_kw[] = { "properties", "required", "additionalProperties" };
        static const char *const arr_kw[] = { "items", "minItems", "maxItems" };
        static const char *const str_kw[] = { "minLength", "maxLength" };
        for (int i = 0; i < 3; i++)
            if (cJSON_GetObjectItemCaseSensitive(node, obj_kw[i]))
                types |= T_OBJECT;
        for (int i = 0; i < 3; i++)
            if (cJSON_GetObjectItemCaseSensitive(node, arr_kw[i]))
                types |= T_ARRAY;
        for (int i = 0; i < 2; i++)
            if (cJSON_GetObjectItemCaseSensitive(node, str_kw[i]))
                types |= T_STRING;
        if (!types) {
            gb_seq_ref(b, &s, rule_value(c));
            gb_alt(b, rule, &s);
            return;
        }
    }
    if (cJSON_IsTrue(nullable))
        types |= T_NULL;
    if ((types & T_NUMBER) && (types & T_INTEGER))
        types &= ~T_INTEGER;   /* numbers include integers; one alternative avoids ambiguity */

    uint32_t alts[7];
    int n = 0;
    if (types & T_OBJECT)
        alts[n++] = compile_object(c, node);
    if (types & T_ARRAY)
        alts[n++] = compile_array(c, node);
    if (types & T_STRING) {
        uint32_t min = get_count(c, node, "minLength", 0), max = get_count(c, node, "maxLength", UNBOUNDED);
        if (b->rc >= 0 && min > max) {
            gb_fail(b, HH_EINVAL, "minLength > maxLength at %s: no string satisfies the schema", where(c));
            return;
        }
        alts[n++] = rule_string(c, min, max);
    }
    if (types & T_NUMBER)
        alts[n++] = rule_number(c);
    if (types & T_INTEGER)
        alts[n++] = rule_integer(c);
    if (types & T_BOOLEAN) {
        alts[n++] = rule_literal(c, "true");
        alts[n++] = rule_literal(c, "false");
    }
    if (types & T_NULL)
        alts[n++] = rule_literal(c, "null");
    for (int i = 0; i < n; i++) {
        gb_seq_ref(b, &s, alts[i]);
        gb_alt(b, rule, &s);
    }
}

static uint32_t compile_schema(sc_t *c, const cJSON *node)
{
    gb_t *b = &c->b;
    if (b->rc < 0)
        return 0;
    if (cJSON_IsTrue(node))
        return rule_value(c);
    if (cJSON_IsFalse(node))
        return gb_rule_new(b);   /* no alternatives: matches nothing */
    if (!cJSON_IsObject(node)) {
        gb_fail(b, HH_EFORMAT, "schema at %s must be an object or a boolean", where(c));
        return 0;
    }
    uint32_t r = memo_get(c, node);
    if (r != NONE)
        return r;
    if (c->depth >= HH_GRAMMAR_MAX_DEPTH) {
        gb_fail(b, HH_ERANGE, "schema nesting deeper than %d at %s", HH_GRAMMAR_MAX_DEPTH, where(c));
        return 0;
    }
    r = gb_rule_new(b);
    memo_put(c, node, r);
    c->depth++;
    compile_body(c, node, r);
    c->depth--;
    return r;
}

int hh_grammar_from_json_schema(const char *schema_json, size_t len, hh_grammar_t **out, hh_err_t *err)
{
    sc_t c;
    memset(&c, 0, sizeof c);
    gb_init(&c.b, err);
    c.r_ws = c.r_value = c.r_char = c.r_number = c.r_integer = NONE;
    for (int i = 0; i <= MAX_INT_DIGITS; i++)
        c.r_digits[i] = NONE;
    *out = NULL;
    hh_err_clear(err);
    cJSON *doc = NULL;
    uint32_t value, root = 0;
    if (schema_json) {
        if (len > HH_GRAMMAR_MAX_SCHEMA_BYTES) {
            gb_fail(&c.b, HH_ERANGE, "schema is %zu bytes; at most %u are accepted", len, HH_GRAMMAR_MAX_SCHEMA_BYTES);
            goto done;
        }
        /* JSON text is UTF-8 (RFC 8259); a name or literal with stray bytes
         * would let the grammar emit text that is not JSON. */
        if (!hh_utf8_valid(schema_json, len)) {
            gb_fail(&c.b, HH_EFORMAT, "schema is not valid UTF-8");
            goto done;
        }
        const char *end = NULL;
        doc = cJSON_ParseWithLengthOpts(schema_json, len, &end, false);
        if (!doc) {
            gb_fail(&c.b, HH_EFORMAT, "schema is not valid JSON (near byte %td)",
                    end ? end - schema_json : (ptrdiff_t)0);
            goto done;
        }
        c.doc = doc;
        value = compile_schema(&c, doc);
    } else {
        value = rule_object_of(&c, rule_value(&c));
    }
    /* root ::= ws value */
    gb_seq_t s = { 0 };
    root = gb_rule_new(&c.b);
    gb_seq_ref(&c.b, &s, rule_ws(&c));
    gb_seq_ref(&c.b, &s, value);
    gb_alt(&c.b, root, &s);
done:;
    int rc = gb_finish(&c.b, root, out);
    cJSON_Delete(doc);
    free(c.memo);
    free(c.strlens);
    return rc;
}
