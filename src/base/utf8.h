/* utf8.h - UTF-8 validation. */
#ifndef HH_BASE_UTF8_H
#define HH_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if the len bytes are valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool hh_utf8_valid(const char *s, size_t len);

#endif
