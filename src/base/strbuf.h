/* strbuf.h - a growing NUL-terminated text buffer for building reports
 * and prompts. Start with hh_strbuf_t b = { 0 }; appends after a failed
 * allocation do nothing and set oom, so a caller checks oom once at the end
 * and frees p (malloc'd, NUL-terminated once anything was appended). */
#ifndef HH_BASE_STRBUF_H
#define HH_BASE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hh_strbuf {
    char  *p;
    size_t len, cap;
    bool   oom;
} hh_strbuf_t;

/* Appends the n bytes at s (s may be NULL when n is 0). */
void hh_strbuf_add(hh_strbuf_t *b, const char *s, size_t n);
/* Appends the string s (NULL appends nothing). */
void hh_strbuf_str(hh_strbuf_t *b, const char *s);

/* The n bytes at s as a new NUL-terminated string (malloc'd; NULL when out
 * of memory). Unlike strndup it copies NUL bytes inside s[0..n) too. */
char *hh_strdup_n(const char *s, size_t n);

#endif
