/* strbuf.c - a growing text buffer (strbuf.h). */
#include "base/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void hh_strbuf_add(hh_strbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX / 2 - b->len - 1) {   /* size_t overflow */
        b->oom = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void hh_strbuf_str(hh_strbuf_t *b, const char *s)
{
    hh_strbuf_add(b, s ? s : "", s ? strlen(s) : 0);
}

char *hh_strdup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}
