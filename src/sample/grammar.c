/* grammar.c - grammar builder and checks, the per-vocabulary token trie, and
 * the byte-level matcher behind constrained decoding (see grammar.h).
 *
 * Matcher: a nondeterministic pushdown automaton. A parse stack is a
 * persistent linked list of frames in an arena (frame = position in
 * elems[] + parent frame), so sharing tails costs nothing. The state is a
 * set of stacks whose top frames all sit on a byte-set element (normal
 * form); the empty stack (NIL) means "a whole value has been read". One
 * byte advances every stack whose top set contains it, then re-normalizes:
 * END pops to the parent frame, REF pushes a return frame (skipped when the
 * reference is the last element: tail call, so repetitions written as right
 * recursion do not grow the stack) and branches into each alternative.
 * Stacks are deduplicated by content (hash + compare), which keeps
 * ambiguous grammars from multiplying them.
 *
 * Masking walks the vocabulary's byte trie depth-first, advancing the stack
 * set once per trie edge; a subtree is skipped as soon as no stack survives.
 * Frames and sets made during the walk are released by resetting the arena
 * marks on the way back up. */
#include "sample/grammar_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

/* ---- builder ------------------------------------------------------------ */

void gb_init(gb_t *b, hh_err_t *err)
{
    memset(b, 0, sizeof *b);
    b->err = err;
    for (int i = 0; i < 256; i++)
        b->single[i] = -1;
}

void gb_seq_free(gb_seq_t *s)
{
    free(s->e);
    s->e = NULL;
    s->n = s->cap = 0;
}

void gb_free(gb_t *b)
{
    for (size_t r = 0; r < b->n_rules; r++) {
        for (size_t a = 0; a < b->rules[r].n; a++)
            gb_seq_free(&b->rules[r].alts[a]);
        free(b->rules[r].alts);
    }
    free(b->rules);
    free(b->sets);
    b->rules = NULL;
    b->sets = NULL;
    b->n_rules = b->n_sets = 0;
}

int gb_fail(gb_t *b, int code, const char *fmt, ...)
{
    if (b->rc < 0)
        return b->rc;
    b->rc = code;
    if (b->err) {
        va_list ap;
        va_start(ap, fmt);
        b->err->code = code;
        b->err->pos = -1;
        vsnprintf(b->err->msg, sizeof b->err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Grows *p (elements of size sz) to hold at least need; false on overflow/OOM. */
static bool grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / sz)
            return false;
        nc *= 2;
    }
    void *q = realloc(*p, nc * sz);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

uint32_t gb_rule_new(gb_t *b)
{
    if (b->rc < 0)
        return 0;
    if (b->n_rules >= GB_MAX_RULES) {
        gb_fail(b, HH_ERANGE, "schema too large: grammar needs more than %u rules", GB_MAX_RULES);
        return 0;
    }
    if (!grow((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof *b->rules)) {
        gb_fail(b, HH_ENOMEM, "out of memory building grammar");
        return 0;
    }
    memset(&b->rules[b->n_rules], 0, sizeof b->rules[0]);
    return (uint32_t)b->n_rules++;
}

static void seq_push(gb_t *b, gb_seq_t *s, uint32_t e)
{
    if (b->rc < 0)
        return;
    if (b->n_elems >= GB_MAX_ELEMS) {
        gb_fail(b, HH_ERANGE, "schema too large: grammar needs more than %u elements", GB_MAX_ELEMS);
        return;
    }
    if (!grow((void **)&s->e, &s->cap, s->n + 1, sizeof *s->e)) {
        gb_fail(b, HH_ENOMEM, "out of memory building grammar");
        return;
    }
    s->e[s->n++] = e;
    b->n_elems++;
}

static int32_t set_index(gb_t *b, const gb_byteset_t *set)
{
    for (size_t i = 0; i < b->n_sets; i++)
        if (memcmp(&b->sets[i], set, sizeof *set) == 0)
            return (int32_t)i;
    if (!grow((void **)&b->sets, &b->cap_sets, b->n_sets + 1, sizeof *b->sets)) {
        gb_fail(b, HH_ENOMEM, "out of memory building grammar");
        return -1;
    }
    b->sets[b->n_sets] = *set;
    return (int32_t)b->n_sets++;
}

void gb_seq_set(gb_t *b, gb_seq_t *s, const gb_byteset_t *set)
{
    if (b->rc < 0)
        return;
    int32_t i = set_index(b, set);
    if (i >= 0)
        seq_push(b, s, GE_MAKE(GE_BYTES, (uint32_t)i));
}

void gb_seq_range(gb_t *b, gb_seq_t *s, uint8_t lo, uint8_t hi)
{
    gb_byteset_t set = { { 0, 0, 0, 0 } };
    for (unsigned c = lo; c <= hi; c++)
        set.w[c >> 6] |= 1ull << (c & 63);
    gb_seq_set(b, s, &set);
}

void gb_seq_byte(gb_t *b, gb_seq_t *s, uint8_t c)
{
    if (b->rc < 0)
        return;
    /* Literals are most of the elements: one-byte sets are cached. */
    if (b->single[c] < 0) {
        gb_byteset_t set = { { 0, 0, 0, 0 } };
        set.w[c >> 6] |= 1ull << (c & 63);
        int32_t i = set_index(b, &set);
        if (i < 0)
            return;
        b->single[c] = i;
    }
    seq_push(b, s, GE_MAKE(GE_BYTES, (uint32_t)b->single[c]));
}

void gb_seq_lit(gb_t *b, gb_seq_t *s, const char *lit, size_t len)
{
    for (size_t i = 0; i < len && b->rc >= 0; i++)
        gb_seq_byte(b, s, (uint8_t)lit[i]);
}

void gb_seq_ref(gb_t *b, gb_seq_t *s, uint32_t rule)
{
    seq_push(b, s, GE_MAKE(GE_REF, rule));
}

void gb_alt(gb_t *b, uint32_t rule, gb_seq_t *s)
{
    if (b->rc < 0 || rule >= b->n_rules) {
        gb_seq_free(s);
        return;
    }
    gb_rule_t *r = &b->rules[rule];
    if (!grow((void **)&r->alts, &r->cap, r->n + 1, sizeof *r->alts)) {
        gb_seq_free(s);
        gb_fail(b, HH_ENOMEM, "out of memory building grammar");
        return;
    }
    r->alts[r->n++] = *s;
    memset(s, 0, sizeof *s);
}

/* ---- grammar checks: productivity, nullability, empty cycles ---------- */

/* Fixpoint over "alternative is satisfied when all its referenced rules
 * are": productive (can derive some finite string) when bytes_ok, nullable
 * (can derive the empty string) otherwise. Linear time: each alternative
 * counts its unsatisfied elements; a rule that becomes satisfied decrements
 * the alternatives that reference it (users[] lists them, CSR by rule). */
static int fixpoint(const gb_t *b, bool bytes_ok, bool *sat)
{
    size_t n_alts = 0;
    for (size_t r = 0; r < b->n_rules; r++)
        n_alts += b->rules[r].n;
    uint32_t *alt_rule = malloc((n_alts + 1) * sizeof *alt_rule);
    uint32_t *pending = malloc((n_alts + 1) * sizeof *pending);
    uint32_t *ustart = calloc(b->n_rules + 1, sizeof *ustart);
    uint32_t *users = NULL, *queue = malloc((b->n_rules + 1) * sizeof *queue);
    uint32_t *fill = NULL;
    int rc = HH_ENOMEM;
    if (!alt_rule || !pending || !ustart || !queue)
        goto cleanup;
    size_t n_refs = 0, ai = 0;
    for (size_t r = 0; r < b->n_rules; r++)
        for (size_t a = 0; a < b->rules[r].n; a++, ai++) {
            const gb_seq_t *s = &b->rules[r].alts[a];
            alt_rule[ai] = (uint32_t)r;
            pending[ai] = 0;
            for (size_t k = 0; k < s->n; k++) {
                if (GE_KIND(s->e[k]) == GE_REF) {
                    pending[ai]++;
                    ustart[GE_ARG(s->e[k]) + 1]++;
                    n_refs++;
                } else if (!bytes_ok) {
                    pending[ai] = UINT32_MAX / 2;  /* never satisfied */
                }
            }
        }
    for (size_t r = 0; r < b->n_rules; r++)
        ustart[r + 1] += ustart[r];
    users = malloc((n_refs + 1) * sizeof *users);
    fill = malloc((b->n_rules + 1) * sizeof *fill);
    if (!users || !fill)
        goto cleanup;
    memcpy(fill, ustart, b->n_rules * sizeof *fill);
    ai = 0;
    for (size_t r = 0; r < b->n_rules; r++)
        for (size_t a = 0; a < b->rules[r].n; a++, ai++) {
            const gb_seq_t *s = &b->rules[r].alts[a];
            for (size_t k = 0; k < s->n; k++)
                if (GE_KIND(s->e[k]) == GE_REF)
                    users[fill[GE_ARG(s->e[k])]++] = (uint32_t)ai;
        }
    size_t qh = 0, qt = 0;
    memset(sat, 0, b->n_rules * sizeof *sat);
    for (size_t a = 0; a < n_alts; a++)
        if (pending[a] == 0 && !sat[alt_rule[a]]) {
            sat[alt_rule[a]] = true;
            queue[qt++] = alt_rule[a];
        }
    while (qh < qt) {
        uint32_t r = queue[qh++];
        for (uint32_t u = ustart[r]; u < ustart[r + 1]; u++) {
            uint32_t a = users[u];
            if (--pending[a] == 0 && !sat[alt_rule[a]]) {
                sat[alt_rule[a]] = true;
                queue[qt++] = alt_rule[a];
            }
        }
    }
    rc = 0;
cleanup:
    free(alt_rule);
    free(pending);
    free(ustart);
    free(users);
    free(queue);
    free(fill);
    return rc;
}

/* True if some rule can reach itself through leading references without
 * consuming input (the matcher's expansion would never terminate).
 * Iterative DFS with colors over "left" edges. */
static int has_empty_cycle(const gb_t *b, const bool *nullable, bool *found)
{
    uint8_t *color = calloc(b->n_rules ? b->n_rules : 1, 1);   /* 0 new, 1 on stack, 2 done */
    typedef struct { uint32_t rule, alt, k; } frame_t;
    frame_t *st = malloc((b->n_rules + 1) * sizeof *st);
    *found = false;
    if (!color || !st) {
        free(color);
        free(st);
        return HH_ENOMEM;
    }
    for (size_t r0 = 0; r0 < b->n_rules && !*found; r0++) {
        if (color[r0])
            continue;
        size_t sp = 0;
        st[sp++] = (frame_t){ (uint32_t)r0, 0, 0 };
        color[r0] = 1;
        while (sp > 0 && !*found) {
            frame_t *f = &st[sp - 1];
            const gb_rule_t *R = &b->rules[f->rule];
            if (f->alt >= R->n) {
                color[f->rule] = 2;
                sp--;
                continue;
            }
            const gb_seq_t *s = &R->alts[f->alt];
            if (f->k >= s->n || GE_KIND(s->e[f->k]) != GE_REF ||
                (f->k > 0 && !nullable[GE_ARG(s->e[f->k - 1])])) {
                f->alt++;
                f->k = 0;
                continue;
            }
            uint32_t t = GE_ARG(s->e[f->k]);
            f->k++;
            if (color[t] == 1)
                *found = true;
            else if (color[t] == 0) {
                color[t] = 1;
                st[sp++] = (frame_t){ t, 0, 0 };
            }
        }
    }
    free(color);
    free(st);
    return 0;
}

int gb_finish(gb_t *b, uint32_t root, hh_grammar_t **out)
{
    bool *prod = NULL, *nul = NULL;
    hh_grammar_t *g = NULL;
    int rc = b->rc;
    *out = NULL;
    if (rc < 0)
        goto cleanup;
    if (root >= b->n_rules) {
        rc = gb_fail(b, HH_EINVAL, "grammar has no root rule");
        goto cleanup;
    }
    size_t nr = b->n_rules;
    prod = malloc(nr * sizeof *prod);
    nul = malloc(nr * sizeof *nul);
    if (!prod || !nul || fixpoint(b, true, prod) < 0) {
        rc = gb_fail(b, HH_ENOMEM, "out of memory checking grammar");
        goto cleanup;
    }
    if (!prod[root]) {
        rc = gb_fail(b, HH_EINVAL, "the schema admits no value");
        goto cleanup;
    }
    /* Alternatives that reference a dead rule could trap generation in a
     * branch that never completes: drop them. */
    for (size_t r = 0; r < nr; r++) {
        gb_rule_t *R = &b->rules[r];
        size_t w = 0;
        for (size_t a = 0; a < R->n; a++) {
            bool ok = true;
            for (size_t k = 0; k < R->alts[a].n && ok; k++)
                if (GE_KIND(R->alts[a].e[k]) == GE_REF && !prod[GE_ARG(R->alts[a].e[k])])
                    ok = false;
            if (ok)
                R->alts[w++] = R->alts[a];
            else
                gb_seq_free(&R->alts[a]);
        }
        R->n = w;
    }
    bool cyc = false;
    if (fixpoint(b, false, nul) < 0 || has_empty_cycle(b, nul, &cyc) < 0) {
        rc = gb_fail(b, HH_ENOMEM, "out of memory checking grammar");
        goto cleanup;
    }
    if (cyc) {
        rc = gb_fail(b, HH_EINVAL, "the schema has a $ref cycle that consumes no input");
        goto cleanup;
    }

    size_t n_alts = 0, n_el = 2;
    for (size_t r = 0; r < nr; r++) {
        n_alts += b->rules[r].n;
        for (size_t a = 0; a < b->rules[r].n; a++)
            n_el += b->rules[r].alts[a].n + 1;
    }
    g = calloc(1, sizeof *g);
    if (!g)
        goto oom;
    g->elems = malloc(n_el * sizeof *g->elems);
    g->alt_start = malloc((n_alts + 1) * sizeof *g->alt_start);
    g->rule_alt = malloc((nr + 1) * sizeof *g->rule_alt);
    g->sets = malloc((b->n_sets + 1) * sizeof *g->sets);
    if (!g->elems || !g->alt_start || !g->rule_alt || !g->sets)
        goto oom;
    g->elems[0] = GE_MAKE(GE_REF, root);
    g->elems[1] = GE_MAKE(GE_END, 0);
    size_t e = 2, ai = 0;
    for (size_t r = 0; r < nr; r++) {
        g->rule_alt[r] = (uint32_t)ai;
        for (size_t a = 0; a < b->rules[r].n; a++) {
            const gb_seq_t *s = &b->rules[r].alts[a];
            g->alt_start[ai++] = (uint32_t)e;
            if (s->n)   /* an epsilon alternative has no element array */
                memcpy(g->elems + e, s->e, s->n * sizeof *s->e);
            e += s->n;
            g->elems[e++] = GE_MAKE(GE_END, 0);
        }
    }
    g->rule_alt[nr] = (uint32_t)ai;
    g->n_elems = e;
    g->n_rules = nr;
    if (b->n_sets)
        memcpy(g->sets, b->sets, b->n_sets * sizeof *g->sets);
    g->n_sets = b->n_sets;
    *out = g;
    g = NULL;
    rc = 0;
    goto cleanup;
oom:
    rc = gb_fail(b, HH_ENOMEM, "out of memory flattening grammar");
cleanup:
    hh_grammar_free(g);
    free(prod);
    free(nul);
    gb_free(b);
    return rc;
}

void hh_grammar_free(hh_grammar_t *g)
{
    if (!g)
        return;
    free(g->elems);
    free(g->alt_start);
    free(g->rule_alt);
    free(g->sets);
    free(g);
}

size_t hh_grammar_n_rules(const hh_grammar_t *g)
{
    return g ? g->n_rules : 0;
}

/* ---- per-vocabulary token bytes and trie -------------------------------- */

/* Tokens longer than this never match (bounds the trie walk's recursion). */
#define GV_MAX_PIECE 1024

/* Trie in preorder: the children of node i are i+1, then each next sibling
 * at the previous child's `end`, while < nodes[i].end. Tokens ending at a
 * node are sorted[tok_lo .. tok_lo + tok_n). */
typedef struct tnode {
    uint32_t end;
    uint32_t tok_lo;
    uint32_t tok_n;
    uint8_t  byte;
} tnode_t;

struct hh_grammar_vocab {
    int32_t   n_tokens;
    uint32_t *off;          /* n_tokens + 1: token t's bytes are bytes[off[t] .. off[t+1]) */
    char     *bytes;
    uint8_t  *eog;          /* n_tokens: 1 for end-of-generation tokens */
    int32_t  *eog_ids;      /* n_eog */
    int32_t   n_eog;
    int32_t  *sorted;       /* matchable tokens, sorted by bytes */
    uint32_t  n_sorted;
    tnode_t  *nodes;        /* n_nodes, nodes[0] = root (empty prefix) */
    uint32_t  n_nodes;
    size_t    cap_nodes;
};

static int cmp_piece(const void *a, const void *b, void *ctx)
{
    const hh_grammar_vocab_t *gv = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    size_t lx = gv->off[x + 1] - gv->off[x], ly = gv->off[y + 1] - gv->off[y];
    int c = memcmp(gv->bytes + gv->off[x], gv->bytes + gv->off[y], lx < ly ? lx : ly);
    if (c)
        return c;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static size_t piece_len(const hh_grammar_vocab_t *gv, int32_t t)
{
    return gv->off[t + 1] - gv->off[t];
}

/* Builds the subtree of node `self` over sorted[lo, hi), whose tokens all
 * share their first `depth` bytes. Recursion depth <= GV_MAX_PIECE. */
static int trie_build(hh_grammar_vocab_t *gv, uint32_t self, uint32_t lo, uint32_t hi, size_t depth)
{
    uint32_t i = lo;
    while (i < hi && piece_len(gv, gv->sorted[i]) == depth)
        i++;
    gv->nodes[self].tok_lo = lo;
    gv->nodes[self].tok_n = i - lo;
    while (i < hi) {
        uint8_t c = (uint8_t)gv->bytes[gv->off[gv->sorted[i]] + depth];
        uint32_t j = i + 1;
        while (j < hi && (uint8_t)gv->bytes[gv->off[gv->sorted[j]] + depth] == c)
            j++;
        if (!grow((void **)&gv->nodes, &gv->cap_nodes, (size_t)gv->n_nodes + 1, sizeof *gv->nodes))
            return HH_ENOMEM;
        uint32_t child = gv->n_nodes++;
        gv->nodes[child].byte = c;
        int rc = trie_build(gv, child, i, j, depth + 1);
        if (rc < 0)
            return rc;
        i = j;
    }
    gv->nodes[self].end = gv->n_nodes;
    return 0;
}

int hh_grammar_vocab_create(const hh_vocab_t *v, hh_grammar_vocab_t **out, hh_err_t *err)
{
    *out = NULL;
    if (!v)
        return hh_err_set(err, HH_EINVAL, -1, "grammar vocab: no vocabulary");
    int32_t n = hh_vocab_n_tokens(v);
    if (n <= 0)
        return hh_err_set(err, HH_EINVAL, -1, "grammar vocab: empty vocabulary");
    hh_grammar_vocab_t *gv = calloc(1, sizeof *gv);
    char piece[GV_MAX_PIECE];
    size_t cap_bytes = 0, n_bytes = 0;
    int rc = HH_ENOMEM;
    if (!gv)
        goto fail;
    gv->n_tokens = n;
    gv->off = malloc(((size_t)n + 1) * sizeof *gv->off);
    gv->eog = calloc((size_t)n, 1);
    gv->eog_ids = malloc((size_t)n * sizeof *gv->eog_ids);
    gv->sorted = malloc((size_t)n * sizeof *gv->sorted);
    if (!gv->off || !gv->eog || !gv->eog_ids || !gv->sorted)
        goto fail;
    for (int32_t t = 0; t < n; t++) {
        gv->off[t] = (uint32_t)n_bytes;
        if (hh_vocab_is_eog(v, t)) {
            gv->eog[t] = 1;
            gv->eog_ids[gv->n_eog++] = t;
            continue;
        }
        if (hh_vocab_is_control(v, t))
            continue;
        int len = hh_token_to_piece(v, t, false, piece, sizeof piece);
        if (len <= 0 || (size_t)len > sizeof piece)
            continue;   /* empty, failed, or too long: never matchable */
        if (n_bytes + (size_t)len > UINT32_MAX - 1) {
            rc = HH_EOVERFLOW;
            goto fail;
        }
        if (!grow((void **)&gv->bytes, &cap_bytes, n_bytes + (size_t)len, 1))
            goto fail;
        memcpy(gv->bytes + n_bytes, piece, (size_t)len);
        n_bytes += (size_t)len;
        gv->sorted[gv->n_sorted++] = t;
    }
    gv->off[n] = (uint32_t)n_bytes;
    if (!gv->bytes && !(gv->bytes = malloc(1)))
        goto fail;
    qsort_r(gv->sorted, gv->n_sorted, sizeof *gv->sorted, cmp_piece, gv);
    gv->cap_nodes = 1024;
    gv->nodes = malloc(gv->cap_nodes * sizeof *gv->nodes);
    if (!gv->nodes)
        goto fail;
    gv->n_nodes = 1;
    gv->nodes[0].byte = 0;
    rc = trie_build(gv, 0, 0, gv->n_sorted, 0);
    if (rc < 0)
        goto fail;
    *out = gv;
    return 0;
fail:
    hh_grammar_vocab_free(gv);
    return hh_err_set(err, rc, -1, "grammar vocab: %s", hh_strerror(rc));
}

void hh_grammar_vocab_free(hh_grammar_vocab_t *gv)
{
    if (!gv)
        return;
    free(gv->off);
    free(gv->bytes);
    free(gv->eog);
    free(gv->eog_ids);
    free(gv->sorted);
    free(gv->nodes);
    free(gv);
}

int32_t hh_grammar_vocab_n_tokens(const hh_grammar_vocab_t *gv)
{
    return gv ? gv->n_tokens : 0;
}

/* ---- matcher ------------------------------------------------------------ */

/* Bound on the recursion of one expansion (chains of leading references,
 * e.g. many optional properties in a row); deeper branches are dropped. */
#define MAX_EXPAND_NEST 4096

typedef struct frame {
    uint32_t pos;      /* element to match (top frame) or to return to (others) */
    uint32_t parent;   /* NIL at the bottom */
    uint32_t depth;    /* frames in this stack, this one included */
    uint32_t hash;     /* of the whole stack's positions, for deduplication */
} frame_t;

struct hh_grammar_state {
    const hh_grammar_t       *g;
    const hh_grammar_vocab_t *gv;
    frame_t  *fr;              /* frame arena; frames are immutable once made */
    size_t    n_fr, cap_fr;
    uint32_t *buf;             /* stack sets as slices; buf[0 .. n_cur) is the current set */
    size_t    n_buf, cap_buf;
    size_t    n_cur;
    uint8_t  *mask;            /* scratch for hh_grammar_apply (n_tokens) */
    bool      ended;
    bool      nomem;
};

static uint32_t mix32(uint32_t h, uint32_t v)
{
    h ^= v + 0x9e3779b9u + (h << 6) + (h >> 2);
    h *= 0x85ebca6bu;
    return h ^ (h >> 13);
}

/* New frame (pos, parent); NIL when out of memory (nomem set) or when the
 * stack would exceed HH_GRAMMAR_MAX_STACK_DEPTH (this branch is dropped). */
static uint32_t frame_new(hh_grammar_state_t *st, uint32_t pos, uint32_t parent)
{
    uint32_t depth = parent == NIL ? 1 : st->fr[parent].depth + 1;
    uint32_t hash = mix32(parent == NIL ? 0x2545f491u : st->fr[parent].hash, pos);
    if (depth > HH_GRAMMAR_MAX_STACK_DEPTH || st->n_fr >= NIL - 1)
        return NIL;
    if (!grow((void **)&st->fr, &st->cap_fr, st->n_fr + 1, sizeof *st->fr)) {
        st->nomem = true;
        return NIL;
    }
    st->fr[st->n_fr] = (frame_t){ pos, parent, depth, hash };
    return (uint32_t)st->n_fr++;
}

static bool stack_eq(const hh_grammar_state_t *st, uint32_t a, uint32_t b)
{
    while (a != b) {
        if (a == NIL || b == NIL || st->fr[a].pos != st->fr[b].pos || st->fr[a].hash != st->fr[b].hash)
            return false;
        a = st->fr[a].parent;
        b = st->fr[b].parent;
    }
    return true;
}

/* Adds stack x to the set buf[start .. n_buf) unless an equal one is there. */
static void set_add(hh_grammar_state_t *st, size_t start, uint32_t x)
{
    for (size_t i = start; i < st->n_buf; i++) {
        uint32_t y = st->buf[i];
        if (y == x)
            return;
        if (x != NIL && y != NIL && st->fr[y].hash == st->fr[x].hash && stack_eq(st, x, y))
            return;
    }
    if (st->n_buf - start >= HH_GRAMMAR_MAX_STACKS)
        return;
    if (!grow((void **)&st->buf, &st->cap_buf, st->n_buf + 1, sizeof *st->buf)) {
        st->nomem = true;
        return;
    }
    st->buf[st->n_buf++] = x;
}

/* Continues at (pos, parent) until every branch's top is a byte set (or
 * the stack is empty), adding the resulting stacks to the set at start. */
static void normalize(hh_grammar_state_t *st, uint32_t pos, uint32_t parent, size_t start, unsigned nest)
{
    const hh_grammar_t *g = st->g;
    for (;;) {
        uint32_t e = g->elems[pos];
        switch (GE_KIND(e)) {
        case GE_END:
            if (parent == NIL) {
                set_add(st, start, NIL);
                return;
            }
            pos = st->fr[parent].pos;
            parent = st->fr[parent].parent;
            continue;
        case GE_BYTES: {
            uint32_t f = frame_new(st, pos, parent);
            if (f != NIL)
                set_add(st, start, f);
            return;
        }
        default: {
            if (nest >= MAX_EXPAND_NEST)
                return;
            uint32_t ret = parent;
            if (GE_KIND(g->elems[pos + 1]) != GE_END) {   /* not a tail call: remember where to return */
                ret = frame_new(st, pos + 1, parent);
                if (ret == NIL)
                    return;
            }
            uint32_t r = GE_ARG(e);
            for (uint32_t a = g->rule_alt[r]; a < g->rule_alt[r + 1]; a++)
                normalize(st, g->alt_start[a], ret, start, nest + 1);
            return;
        }
        }
    }
}

static bool set_has_byte(const gb_byteset_t *s, uint8_t c)
{
    return (s->w[c >> 6] >> (c & 63)) & 1u;
}

/* Advances the set buf[lo .. hi) by byte c; the result is buf[ret .. n_buf). */
static size_t advance(hh_grammar_state_t *st, size_t lo, size_t hi, uint8_t c)
{
    size_t start = st->n_buf;
    for (size_t i = lo; i < hi; i++) {
        uint32_t x = st->buf[i];
        if (x == NIL)
            continue;
        uint32_t pos = st->fr[x].pos;
        if (set_has_byte(&st->g->sets[GE_ARG(st->g->elems[pos])], c))
            normalize(st, pos + 1, st->fr[x].parent, start, 0);
    }
    return start;
}

static bool set_has_nil(const hh_grammar_state_t *st, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        if (st->buf[i] == NIL)
            return true;
    return false;
}

void hh_grammar_state_reset(hh_grammar_state_t *s)
{
    s->n_fr = 0;
    s->n_buf = 0;
    s->ended = false;
    s->nomem = false;
    normalize(s, 0, NIL, 0, 0);
    s->n_cur = s->n_buf;
}

int hh_grammar_state_create(const hh_grammar_t *g, const hh_grammar_vocab_t *gv, hh_grammar_state_t **out,
                            hh_err_t *err)
{
    *out = NULL;
    if (!g)
        return hh_err_set(err, HH_EINVAL, -1, "grammar state: no grammar");
    hh_grammar_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return hh_err_set(err, HH_ENOMEM, -1, "grammar state: out of memory");
    s->g = g;
    s->gv = gv;
    hh_grammar_state_reset(s);
    if (s->nomem || s->n_cur == 0) {
        int rc = s->nomem ? HH_ENOMEM : HH_EINVAL;
        hh_grammar_state_free(s);
        return hh_err_set(err, rc, -1, "grammar state: %s", rc == HH_ENOMEM ? "out of memory" : "grammar matches nothing");
    }
    *out = s;
    return 0;
}

void hh_grammar_state_free(hh_grammar_state_t *s)
{
    if (!s)
        return;
    free(s->fr);
    free(s->buf);
    free(s->mask);
    free(s);
}

/* Makes buf[lo .. hi) the current set and, when the arena has grown large,
 * copies the live stacks into a fresh one (frames of abandoned branches are
 * garbage otherwise). */
static void commit(hh_grammar_state_t *st, size_t lo, size_t hi)
{
    memmove(st->buf, st->buf + lo, (hi - lo) * sizeof *st->buf);
    st->n_cur = st->n_buf = hi - lo;
    if (st->n_fr < 65536)
        return;
    frame_t *nf = malloc(st->cap_fr * sizeof *nf);
    uint32_t *map = malloc(st->n_fr * sizeof *map);
    uint32_t *chain = malloc((HH_GRAMMAR_MAX_STACK_DEPTH + 1) * sizeof *chain);
    if (!nf || !map || !chain) {   /* keep the old arena: correct, only larger */
        free(nf);
        free(map);
        free(chain);
        return;
    }
    memset(map, 0xff, st->n_fr * sizeof *map);
    size_t n = 0;
    for (size_t i = 0; i < st->n_cur; i++) {
        uint32_t x = st->buf[i];
        size_t k = 0;
        while (x != NIL && map[x] == NIL) {   /* unmapped part of the chain, top first */
            chain[k++] = x;
            x = st->fr[x].parent;
        }
        while (k > 0) {   /* copy from the bottom so parents get their new index first */
            uint32_t o = chain[--k];
            nf[n] = st->fr[o];
            nf[n].parent = st->fr[o].parent == NIL ? NIL : map[st->fr[o].parent];
            map[o] = (uint32_t)n++;
        }
        if (st->buf[i] != NIL)
            st->buf[i] = map[st->buf[i]];
    }
    free(st->fr);
    st->fr = nf;
    st->n_fr = n;
    free(map);
    free(chain);
}

/* Runs bytes through the current set without committing; returns the
 * start of the resulting set (buf[ret .. n_buf)), possibly empty. */
static size_t run_bytes(hh_grammar_state_t *st, const uint8_t *p, size_t len)
{
    size_t lo = 0, hi = st->n_cur;
    for (size_t i = 0; i < len && lo < hi; i++) {
        size_t start = advance(st, lo, hi, p[i]);
        lo = start;
        hi = st->n_buf;
    }
    return lo;
}

int hh_grammar_accept_bytes(hh_grammar_state_t *s, const char *bytes, size_t len)
{
    if (s->ended)
        return HH_ESTATE;
    size_t mark_fr = s->n_fr;
    size_t lo = run_bytes(s, (const uint8_t *)bytes, len);
    if (s->nomem || s->n_buf == lo) {
        int rc = s->nomem ? HH_ENOMEM : HH_EINVAL;
        s->nomem = false;
        s->n_fr = mark_fr;
        s->n_buf = s->n_cur;
        return rc;
    }
    if (len > 0)
        commit(s, lo, s->n_buf);
    else
        s->n_buf = s->n_cur;
    return 0;
}

bool hh_grammar_complete(const hh_grammar_state_t *s)
{
    return !s->ended && set_has_nil(s, 0, s->n_cur);
}

bool hh_grammar_finished(const hh_grammar_state_t *s)
{
    return !s->ended && s->n_cur == 1 && s->buf[0] == NIL;
}

bool hh_grammar_ended(const hh_grammar_state_t *s)
{
    return s->ended;
}

bool hh_grammar_token_allowed(hh_grammar_state_t *s, int32_t token)
{
    const hh_grammar_vocab_t *gv = s->gv;
    if (s->ended || !gv || token < 0 || token >= gv->n_tokens)
        return false;
    if (gv->eog[token])
        return hh_grammar_complete(s);
    size_t len = piece_len(gv, token);
    if (len == 0)
        return false;
    size_t mark_fr = s->n_fr;
    size_t lo = run_bytes(s, (const uint8_t *)gv->bytes + gv->off[token], len);
    bool ok = !s->nomem && s->n_buf > lo;
    s->nomem = false;
    s->n_fr = mark_fr;
    s->n_buf = s->n_cur;
    return ok;
}

int hh_grammar_accept(hh_grammar_state_t *s, int32_t token)
{
    const hh_grammar_vocab_t *gv = s->gv;
    if (s->ended)
        return HH_ESTATE;
    if (!gv || token < 0 || token >= gv->n_tokens)
        return HH_EINVAL;
    if (gv->eog[token]) {
        if (!hh_grammar_complete(s))
            return HH_EINVAL;
        s->ended = true;
        return 0;
    }
    size_t len = piece_len(gv, token);
    if (len == 0)
        return HH_EINVAL;
    return hh_grammar_accept_bytes(s, gv->bytes + gv->off[token], len);
}

/* Depth-first over the trie below node; the set buf[lo .. hi) holds the
 * stacks after the node's prefix. Marks allowed tokens, counts them. */
static void walk(hh_grammar_state_t *st, uint32_t node, size_t lo, size_t hi, uint8_t *allowed, int32_t n,
                 int *count)
{
    const hh_grammar_vocab_t *gv = st->gv;
    gb_byteset_t any = { { 0, 0, 0, 0 } };   /* union of the top sets: cheap pre-filter per child */
    for (size_t i = lo; i < hi; i++)
        if (st->buf[i] != NIL) {
            const gb_byteset_t *s = &st->g->sets[GE_ARG(st->g->elems[st->fr[st->buf[i]].pos])];
            for (int w = 0; w < 4; w++)
                any.w[w] |= s->w[w];
        }
    uint32_t end = gv->nodes[node].end;
    for (uint32_t c = node + 1; c < end; c = gv->nodes[c].end) {
        const tnode_t *tn = &gv->nodes[c];
        if (!set_has_byte(&any, tn->byte))
            continue;
        size_t mark_fr = st->n_fr, mark_buf = st->n_buf;
        size_t start = advance(st, lo, hi, tn->byte);
        size_t stop = st->n_buf;
        if (stop > start) {
            for (uint32_t k = tn->tok_lo; k < tn->tok_lo + tn->tok_n; k++) {
                int32_t t = gv->sorted[k];
                if (t < n && !allowed[t]) {
                    allowed[t] = 1;
                    (*count)++;
                }
            }
            if (tn->end > c + 1 && !(stop - start == 1 && st->buf[start] == NIL))
                walk(st, c, start, stop, allowed, n, count);
        }
        st->n_fr = mark_fr;
        st->n_buf = mark_buf;
    }
}

int hh_grammar_fill_mask(hh_grammar_state_t *s, uint8_t *allowed, int32_t n)
{
    const hh_grammar_vocab_t *gv = s->gv;
    if (!gv || n <= 0)
        return HH_EINVAL;
    if (s->ended)
        return HH_ESTATE;
    memset(allowed, 0, (size_t)n);
    int count = 0;
    size_t mark_fr = s->n_fr;
    walk(s, 0, 0, s->n_cur, allowed, n, &count);
    s->n_fr = mark_fr;
    s->n_buf = s->n_cur;
    if (s->nomem) {
        s->nomem = false;
        return HH_ENOMEM;
    }
    bool eog_ok = hh_grammar_complete(s) || count == 0;
    if (eog_ok)
        for (int32_t i = 0; i < gv->n_eog; i++)
            if (gv->eog_ids[i] < n) {
                allowed[gv->eog_ids[i]] = 1;
                count++;
            }
    return count;
}

int hh_grammar_apply(hh_grammar_state_t *s, float *logits, int32_t n_vocab)
{
    const hh_grammar_vocab_t *gv = s->gv;
    if (!gv || n_vocab <= 0 || !logits)
        return HH_EINVAL;
    if (!s->mask && !(s->mask = malloc((size_t)gv->n_tokens)))
        return HH_ENOMEM;
    int32_t n = n_vocab < gv->n_tokens ? n_vocab : gv->n_tokens;
    int count = hh_grammar_fill_mask(s, s->mask, n);
    if (count < 0)
        return count;
    for (int32_t t = 0; t < n; t++)
        if (!s->mask[t])
            logits[t] = -INFINITY;
    for (int32_t t = n; t < n_vocab; t++)
        logits[t] = -INFINITY;
    return count;
}
