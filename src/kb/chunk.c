/* chunk.c - structure-following, token-budgeted chunking with overlap (see
 * chunk.h for the rules).
 *
 * The document is first flattened into units: a whole block when it fits
 * the budget, else its sentences (and a too long sentence's word runs).
 * Headings become break marks carrying the new heading path. Chunks are
 * then contiguous unit ranges [i0, i): packing moves i forward, overlap
 * moves the next chunk's i0 back over the closed chunk's tail. */
#include "kb/chunk.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVEL 6
static const char PATH_SEP[] = " \xE2\x80\xBA ";   /* " › " */

typedef struct unit {
    char   *text;      /* owned; NULL for a break mark */
    size_t  len;
    int     tokens;
    int32_t page;
    char    sep;       /* joins it to the previous unit of a chunk: '\n' or ' ' */
    int     path;      /* index into the paths array */
} unit_t;

typedef struct flat {
    unit_t *u;
    size_t  n, cap;
    char  **paths;     /* owned heading paths */
    size_t  n_paths, cap_paths;
    const hh_chunk_params_t *p;
} flat_t;

hh_chunk_params_t hh_chunk_default_params(void)
{
    return (hh_chunk_params_t){ .max_tokens = 256, .overlap_pct = 15, .count = NULL, .count_ctx = NULL };
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int hh_chunk_estimate_tokens(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    size_t words = 0;
    bool in = false;
    for (size_t i = 0; i < len; i++) {
        bool sp = is_space((unsigned char)text[i]);
        if (!sp && !in)
            words++;
        in = !sp;
    }
    /* ceil(words * 1.3) in integers; saturate rather than overflow. */
    size_t t = (words * 13 + 9) / 10;
    return t > (size_t)1 << 30 ? 1 << 30 : (int)t;
}

static int count(const flat_t *f, const char *s, size_t len)
{
    int t = f->p->count ? f->p->count(f->p->count_ctx, s, len) : hh_chunk_estimate_tokens(NULL, s, len);
    return t < 0 ? 0 : t;
}

static int push_unit(flat_t *f, char *text, size_t len, int tokens, int32_t page, char sep)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        unit_t *nu = realloc(f->u, nc * sizeof *nu);
        if (!nu) {
            free(text);
            return HH_ENOMEM;
        }
        f->u = nu;
        f->cap = nc;
    }
    f->u[f->n++] = (unit_t){ text, len, tokens, page, sep, (int)f->n_paths - 1 };
    return 0;
}

/* Copies s[0..len) into a new unit. */
static int push_copy(flat_t *f, const char *s, size_t len, int tokens, int32_t page, char sep)
{
    char *t = malloc(len + 1);
    if (!t)
        return HH_ENOMEM;
    memcpy(t, s, len);
    t[len] = '\0';
    return push_unit(f, t, len, tokens, page, sep);
}

/* A break mark with a new heading path (taken over). */
static int push_break(flat_t *f, char *path)
{
    if (f->n_paths == f->cap_paths) {
        size_t nc = f->cap_paths ? f->cap_paths * 2 : 16;
        char **np = realloc(f->paths, nc * sizeof *np);
        if (!np) {
            free(path);
            return HH_ENOMEM;
        }
        f->paths = np;
        f->cap_paths = nc;
    }
    f->paths[f->n_paths++] = path;
    return push_unit(f, NULL, 0, 0, 0, '\n');
}

static char *join_path(const char *prefix, char *const *stack)
{
    size_t n = prefix ? strlen(prefix) : 0;
    for (int i = 0; i < MAX_LEVEL; i++)
        if (stack[i])
            n += strlen(stack[i]) + sizeof PATH_SEP;
    char *out = malloc(n + 1), *w = out;
    if (!out)
        return NULL;
    *w = '\0';
    if (prefix && prefix[0])
        w = stpcpy(w, prefix);
    for (int i = 0; i < MAX_LEVEL; i++) {
        if (!stack[i])
            continue;
        if (w != out)
            w = stpcpy(w, PATH_SEP);
        w = stpcpy(w, stack[i]);
    }
    return out;
}

/* Length of the UTF-8 sequence starting with byte c (1 for invalid bytes). */
static size_t utf8_len(unsigned char c)
{
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* A sentence longer than the budget: word runs that fit, and a word longer
 * than the budget cut at character boundaries. */
static int push_words(flat_t *f, const char *s, size_t len, int32_t page, char sep)
{
    int max = f->p->max_tokens;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space((unsigned char)s[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i, end = i; /* [start, end) fits */
        int end_tok = 0;
        while (end < len) {
            size_t j = end;
            while (j < len && is_space((unsigned char)s[j]))
                j++;
            size_t k = j;
            while (k < len && !is_space((unsigned char)s[k]))
                k++;
            if (k == j)
                break;
            int t = count(f, s + start, k - start);
            if (t > max && end > start)
                break;
            if (t > max) {
                /* One word over the budget: the longest prefix that fits. */
                size_t c = start;
                while (c < k) {
                    size_t nx = c + utf8_len((unsigned char)s[c]);
                    if (nx > k)
                        nx = k;
                    if (c > start && count(f, s + start, nx - start) > max)
                        break;
                    c = nx;
                }
                end = c;
                end_tok = count(f, s + start, end - start);
                break;
            }
            end = k;
            end_tok = t;
        }
        int rc = push_copy(f, s + start, end - start, end_tok, page, sep);
        if (rc)
            return rc;
        sep = ' ';
        i = end;
    }
    return 0;
}

static bool sentence_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0xC0 || c == '"' || c == '(';
}

/* A block longer than the budget: its sentences (lines count as sentence
 * ends), each further cut into words when still too long. */
static int push_sentences(flat_t *f, const char *s, size_t len, int32_t page, char sep)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space((unsigned char)s[i])) {
            if (s[i] == '\n')
                sep = '\n';
            i++;
        }
        if (i >= len)
            break;
        size_t start = i, end = len, next = len;
        char next_sep = ' ';
        for (size_t j = i; j < len; j++) {
            if (s[j] == '\n') {
                end = j;
                next = j;
                next_sep = '\n';
                break;
            }
            if ((s[j] == '.' || s[j] == '!' || s[j] == '?') && j + 1 < len && s[j + 1] == ' ') {
                size_t k = j + 1;
                while (k < len && s[k] == ' ')
                    k++;
                if (k < len && sentence_start((unsigned char)s[k])) {
                    end = j + 1;
                    next = k;
                    break;
                }
            }
        }
        while (end > start && is_space((unsigned char)s[end - 1]))
            end--;
        int t = count(f, s + start, end - start);
        int rc = t > f->p->max_tokens ? push_words(f, s + start, end - start, page, sep)
                                      : push_copy(f, s + start, end - start, t, page, sep);
        if (rc)
            return rc;
        sep = next_sep;
        i = next;
    }
    return 0;
}

/* A table row longer than the budget: runs of whole cells (" | "
 * separated, each "Header: value") that fit, so no cell is cut and every
 * piece still names its columns; a single cell over the budget goes by
 * sentences. */
static int push_cells(flat_t *f, const char *s, size_t len, int32_t page, char sep)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        const char *bar = memmem(s + i, len - i, " | ", 3);
        size_t end = bar ? (size_t)(bar - s) : len;
        /* s[end..end+3) is " | " while end < len: take the next cell if it fits */
        while (end < len) {
            const char *nb = memmem(s + end + 3, len - end - 3, " | ", 3);
            size_t next = nb ? (size_t)(nb - s) : len;
            if (count(f, s + start, next - start) > f->p->max_tokens)
                break;
            end = next;
        }
        int t = count(f, s + start, end - start);
        int rc = t > f->p->max_tokens ? push_sentences(f, s + start, end - start, page, sep)
                                      : push_copy(f, s + start, end - start, t, page, sep);
        if (rc)
            return rc;
        sep = '\n';
        i = end < len ? end + 3 : len;
    }
    return 0;
}

/* Renders a non-heading block as chunk text (list items get their mark). */
static int push_block(flat_t *f, const hh_block_t *b)
{
    const char *s = b->text ? b->text : "";
    size_t len = b->text ? strnlen(b->text, b->len) : 0;
    if (b->kind == HH_BLOCK_CODE) {
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
            len--;
    } else {
        while (len > 0 && is_space((unsigned char)*s))
            s++, len--;
        while (len > 0 && is_space((unsigned char)s[len - 1]))
            len--;
    }
    size_t only_ws = 0;
    while (only_ws < len && is_space((unsigned char)s[only_ws]))
        only_ws++;
    if (only_ws == len)
        return 0;
    char *text = NULL;
    size_t tl = len;
    if (b->kind == HH_BLOCK_LIST_ITEM) {
        int depth = b->level < 1 ? 1 : b->level > 16 ? 16 : b->level;
        size_t indent = 2 * (size_t)(depth - 1);
        tl = indent + 2 + len;
        if (!(text = malloc(tl + 1)))
            return HH_ENOMEM;
        memset(text, ' ', indent);
        memcpy(text + indent, "- ", 2);
        memcpy(text + indent + 2, s, len);
    } else {
        if (!(text = malloc(tl + 1)))
            return HH_ENOMEM;
        memcpy(text, s, len);
    }
    text[tl] = '\0';
    int t = count(f, text, tl);
    if (t <= f->p->max_tokens)
        return push_unit(f, text, tl, t, b->page, '\n');
    int rc = b->kind == HH_BLOCK_TABLE_ROW ? push_cells(f, text, tl, b->page, '\n')
                                           : push_sentences(f, text, tl, b->page, '\n');
    free(text);
    return rc;
}

/* Flattens one document (and its attachments) under a heading-path prefix. */
static int flatten(flat_t *f, const hh_doc_t *doc, const char *prefix, int depth)
{
    char *stack[MAX_LEVEL] = { 0 };
    int rc = 0;
    char *p0 = join_path(prefix, stack);
    if (!p0 || (rc = push_break(f, p0)))
        return rc ? rc : HH_ENOMEM;
    for (size_t i = 0; i < doc->n_blocks && !rc; i++) {
        const hh_block_t *b = &doc->blocks[i];
        if (b->kind != HH_BLOCK_HEADING) {
            rc = push_block(f, b);
            continue;
        }
        const char *s = b->text ? b->text : "";
        size_t len = b->text ? strnlen(b->text, b->len) : 0;
        while (len > 0 && is_space((unsigned char)*s))
            s++, len--;
        while (len > 0 && is_space((unsigned char)s[len - 1]))
            len--;
        if (len == 0)
            continue;
        int lv = b->level < 1 ? 1 : b->level > MAX_LEVEL ? MAX_LEVEL : b->level;
        for (int k = lv - 1; k < MAX_LEVEL; k++) {
            free(stack[k]);
            stack[k] = NULL;
        }
        if (!(stack[lv - 1] = strndup(s, len))) {
            rc = HH_ENOMEM;
            break;
        }
        char *p = join_path(prefix, stack);
        rc = p ? push_break(f, p) : HH_ENOMEM;
    }
    for (int k = 0; k < MAX_LEVEL; k++)
        free(stack[k]);
    /* Attachments nest only as deep as the extractor allows; cap anyway. */
    for (size_t c = 0; c < doc->n_children && !rc && depth < 16; c++) {
        const hh_doc_t *ch = &doc->children[c];
        const char *nm = ch->name && ch->name[0] ? ch->name : ch->title && ch->title[0] ? ch->title : "attachment";
        char *sub = NULL;
        if (prefix && prefix[0]) {
            size_t n = strlen(prefix) + sizeof PATH_SEP + strlen(nm);
            if ((sub = malloc(n)))
                stpcpy(stpcpy(stpcpy(sub, prefix), PATH_SEP), nm);
        } else {
            sub = strdup(nm);
        }
        if (!sub)
            return HH_ENOMEM;
        rc = flatten(f, ch, sub, depth + 1);
        free(sub);
    }
    return rc;
}

static int emit(const flat_t *f, size_t i0, size_t i1, hh_chunk_t **out, size_t *n, size_t *cap)
{
    size_t len = 0;
    for (size_t i = i0; i < i1; i++)
        len += f->u[i].len + 1;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        hh_chunk_t *nv = realloc(*out, nc * sizeof *nv);
        if (!nv)
            return HH_ENOMEM;
        *out = nv;
        *cap = nc;
    }
    char *text = malloc(len + 1), *w = text;
    char *path = strdup(f->paths[f->u[i0].path]);
    if (!text || !path) {
        free(text);
        free(path);
        return HH_ENOMEM;
    }
    for (size_t i = i0; i < i1; i++) {
        if (i > i0)
            *w++ = f->u[i].sep;
        memcpy(w, f->u[i].text, f->u[i].len);
        w += f->u[i].len;
    }
    *w = '\0';
    (*out)[(*n)++] = (hh_chunk_t){ text, path, f->u[i0].page, count(f, text, (size_t)(w - text)) };
    return 0;
}

void hh_chunks_free(hh_chunk_t *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].text);
        free(v[i].heading_path);
    }
    free(v);
}

int hh_chunk_doc(const hh_doc_t *doc, const hh_chunk_params_t *p, hh_chunk_t **out, size_t *n, hh_err_t *err)
{
    *out = NULL;
    *n = 0;
    hh_chunk_params_t dp = hh_chunk_default_params();
    if (!p)
        p = &dp;
    if (!doc)
        return hh_err_set(err, HH_EINVAL, -1, "chunk: no document");
    if (p->max_tokens < 8 || p->max_tokens > (1 << 20) || p->overlap_pct < 0 || p->overlap_pct > 50)
        return hh_err_set(err, HH_EINVAL, -1, "chunk: max_tokens must be 8..%d and overlap_pct 0..50 (got %d, %d)",
                          1 << 20, p->max_tokens, p->overlap_pct);
    flat_t f = { .p = p };
    hh_chunk_t *v = NULL;
    size_t nv = 0, cv = 0;
    int rc = flatten(&f, doc, NULL, 0);
    if (rc)
        goto done;
    const int max = p->max_tokens, budget = max * p->overlap_pct / 100;
    size_t i0 = 0;
    bool open = false;
    int cur = 0;
    for (size_t i = 0; i < f.n; i++) {
        const unit_t *u = &f.u[i];
        if (!u->text) { /* heading: close without overlap */
            if (open && (rc = emit(&f, i0, i, &v, &nv, &cv)))
                goto done;
            open = false;
            continue;
        }
        if (open && cur + u->tokens > max) {
            if ((rc = emit(&f, i0, i, &v, &nv, &cv)))
                goto done;
            /* Overlap: carry the tail units that fit the overlap budget and
             * leave room for u; never the whole previous chunk. */
            size_t k = i;
            int t = 0;
            while (k - 1 > i0 && t + f.u[k - 1].tokens <= budget && t + f.u[k - 1].tokens + u->tokens <= max) {
                k--;
                t += f.u[k].tokens;
            }
            i0 = k;
            cur = t;
        }
        if (!open) {
            i0 = i;
            cur = 0;
            open = true;
        }
        cur += u->tokens;
    }
    if (open)
        rc = emit(&f, i0, f.n, &v, &nv, &cv);
done:
    for (size_t i = 0; i < f.n; i++)
        free(f.u[i].text);
    free(f.u);
    for (size_t i = 0; i < f.n_paths; i++)
        free(f.paths[i]);
    free(f.paths);
    if (rc) {
        hh_chunks_free(v, nv);
        return hh_err_set(err, rc, -1, "chunk: out of memory");
    }
    *out = v;
    *n = nv;
    return 0;
}
