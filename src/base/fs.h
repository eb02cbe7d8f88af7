/* fs.h - small file-system helpers shared by the layers above base. */
#ifndef HH_BASE_FS_H
#define HH_BASE_FS_H

#include "base/err.h"

#include <stddef.h>
#include <stdio.h>

/* Creates directory path and its missing parents with mode 0700 (existing
 * ones are left as they are). Errors, their message starting with prefix
 * (e.g. "store: ", or ""): HH_EINVAL "bad data directory path" (empty or
 * 4096 bytes and longer), HH_EIO "cannot create DIR: REASON". */
int hh_mkdir_p(const char *path, const char *prefix, hh_err_t *err);

/* Reads f to its end into *out (malloc'd, NUL-terminated; *len bytes
 * without the NUL; caller frees). Returns 0, HH_EFORMAT when f holds more
 * than max bytes, or HH_ENOMEM; *out is NULL then. The caller opens and
 * closes f and words the error. */
int hh_read_stream(FILE *f, size_t max, char **out, size_t *len);

#endif
