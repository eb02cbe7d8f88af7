/* conf.h - a `key = value` configuration file (e.g. /etc/hoheit/hoheit.conf).
 *
 * Syntax, one setting per line:
 *   # a comment (only as the first non-blank character of a line)
 *   port = 8080
 *   data = "/var/lib/hoheit"      quotes ("..." or '...') are optional and
 *                                 are removed; inside them nothing is special
 * Keys are [a-z0-9-], not starting with '-' (the long option names without "--"); blanks around
 * key, '=' and value are ignored; blank lines are skipped. A key may appear
 * once. There is no inline comment: `port = 80 # x` has the value "80 # x",
 * which the consumer then refuses as a bad value.
 *
 * The reader only checks the syntax; what the keys mean is the caller's
 * (hoheit serve feeds each entry through its command-line option parser). */
#ifndef HH_BASE_CONF_H
#define HH_BASE_CONF_H

#include "base/err.h"

#include <stddef.h>

/* The largest configuration file read (bytes); larger ones are refused. */
#define HH_CONF_MAX_BYTES (1u << 20)

typedef struct hh_conf_entry {
    char *key;     /* NUL-terminated, [a-z0-9][a-z0-9-]* */
    char *value;   /* NUL-terminated, quotes removed, may be "" */
    int   line;    /* 1-based line number in the file */
} hh_conf_entry_t;

/* A parsed file; every pointer is owned (hh_conf_free frees them). */
typedef struct hh_conf {
    hh_conf_entry_t *v;      /* in file order */
    size_t           n;
    char            *path;   /* copy of the path read (for messages) */
} hh_conf_t;

/* Reads and parses path into *out (zeroed first). Errors, with the message
 * in err always starting with the path and, for syntax, "path:LINE: ";
 * err->pos is the line number (or -1):
 *   HH_EIO      the file cannot be opened or read (errno text)
 *   HH_EFORMAT  a line without '=', an empty or malformed key, an
 *               unterminated quote, text after a closing quote, a NUL byte,
 *               a key given twice (both line numbers)
 *   HH_EOVERFLOW the file is larger than HH_CONF_MAX_BYTES
 *   HH_ENOMEM
 * On error *out holds nothing to free (hh_conf_free on it is harmless). */
int hh_conf_read(hh_conf_t *out, const char *path, hh_err_t *err);

/* Parses the NUL-free text of len bytes as if read from a file named
 * path (used for messages only). Same results as hh_conf_read. */
int hh_conf_parse(hh_conf_t *out, const char *path, const char *text, size_t len, hh_err_t *err);

/* The entry for key, or NULL. */
const hh_conf_entry_t *hh_conf_get(const hh_conf_t *c, const char *key);

/* Frees what c owns and zeroes it (safe on a zeroed or freed c). */
void hh_conf_free(hh_conf_t *c);

#endif
