/* conf.c - the `key = value` configuration file reader (syntax in conf.h). */
#include "base/conf.h"
#include "base/strbuf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

void hh_conf_free(hh_conf_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].value);
    }
    free(c->v);
    free(c->path);
    memset(c, 0, sizeof *c);
}

const hh_conf_entry_t *hh_conf_get(const hh_conf_t *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].key, key))
            return &c->v[i];
    return NULL;
}

/* Parses one line [s, e) (no '\n') numbered line into c. Blank and comment
 * lines add nothing. */
static int parse_line(hh_conf_t *c, const char *path, int line, const char *s, const char *e, size_t *cap,
                      hh_err_t *err)
{
    while (s < e && is_blank(*s))
        s++;
    while (e > s && is_blank(e[-1]))
        e--;
    if (s == e || *s == '#')
        return HH_OK;
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq)
        return hh_err_set(err, HH_EFORMAT, line, "%s:%d: expected `key = value`, got '%.*s'", path, line,
                          (int)(e - s > 80 ? 80 : e - s), s);
    const char *ke = eq;
    while (ke > s && is_blank(ke[-1]))
        ke--;
    if (ke == s)
        return hh_err_set(err, HH_EFORMAT, line, "%s:%d: no key before '='", path, line);
    for (const char *k = s; k < ke; k++)
        if (!is_key_char(*k) || (k == s && *k == '-'))
            return hh_err_set(err, HH_EFORMAT, line,
                              "%s:%d: bad key '%.*s' (keys are the long option names: lower case, digits, '-')",
                              path, line, (int)(ke - s > 80 ? 80 : ke - s), s);
    const char *v = eq + 1;
    while (v < e && is_blank(*v))
        v++;
    const char *ve = e;
    if (v < ve && (*v == '"' || *v == '\'')) {
        const char *close = memchr(v + 1, *v, (size_t)(ve - v - 1));
        if (!close)
            return hh_err_set(err, HH_EFORMAT, line, "%s:%d: unterminated %c quote", path, line, *v);
        if (close + 1 != ve)
            return hh_err_set(err, HH_EFORMAT, line, "%s:%d: text after the closing quote", path, line);
        v++;
        ve = close;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->v[i].key) == (size_t)(ke - s) && !memcmp(c->v[i].key, s, (size_t)(ke - s)))
            return hh_err_set(err, HH_EFORMAT, line, "%s:%d: key '%s' given twice (first on line %d)", path, line,
                              c->v[i].key, c->v[i].line);
    if (c->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        hh_conf_entry_t *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv)
            return hh_err_set(err, HH_ENOMEM, -1, "%s: out of memory", path);
        c->v = nv;
        *cap = nc;
    }
    hh_conf_entry_t *en = &c->v[c->n];
    en->key = hh_strdup_n(s, (size_t)(ke - s));
    en->value = hh_strdup_n(v, (size_t)(ve - v));
    en->line = line;
    if (!en->key || !en->value) {
        free(en->key);
        free(en->value);
        return hh_err_set(err, HH_ENOMEM, -1, "%s: out of memory", path);
    }
    c->n++;
    return HH_OK;
}

int hh_conf_parse(hh_conf_t *out, const char *path, const char *text, size_t len, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (len > HH_CONF_MAX_BYTES)
        return hh_err_set(err, HH_EOVERFLOW, -1, "%s: larger than %u bytes", path, HH_CONF_MAX_BYTES);
    out->path = hh_strdup_n(path, strlen(path));
    if (!out->path)
        return hh_err_set(err, HH_ENOMEM, -1, "%s: out of memory", path);
    size_t cap = 0;
    int line = 1, rc = HH_OK;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(le - p))) {
            rc = hh_err_set(err, HH_EFORMAT, line, "%s:%d: NUL byte (not a text file?)", path, line);
            break;
        }
        rc = parse_line(out, path, line, p, le, &cap, err);
        if (rc != HH_OK)
            break;
        p = nl ? nl + 1 : end;
        line++;
    }
    if (rc != HH_OK)
        hh_conf_free(out);
    return rc;
}

int hh_conf_read(hh_conf_t *out, const char *path, hh_err_t *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return hh_err_set(err, HH_EIO, -1, "%s: cannot open: %s", path, strerror(errno));
    /* Read one byte past the limit to tell "exactly the limit" from "more". */
    char *buf = malloc(HH_CONF_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return hh_err_set(err, HH_ENOMEM, -1, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, HH_CONF_MAX_BYTES + 1, f);
    int rd_err = ferror(f) ? errno : 0;
    fclose(f);
    int rc;
    if (rd_err)
        rc = hh_err_set(err, HH_EIO, -1, "%s: cannot read: %s", path, strerror(rd_err));
    else
        rc = hh_conf_parse(out, path, buf, n, err);
    free(buf);
    return rc;
}
