/* fs.c - small file-system helpers (fs.h). */
#include "base/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int hh_mkdir_p(const char *path, const char *prefix, hh_err_t *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return hh_err_set(err, HH_EINVAL, -1, "%sbad data directory path", prefix);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return hh_err_set(err, HH_EIO, -1, "%scannot create %s: %s", prefix, buf, strerror(errno));
            buf[i] = c;
        }
    }
    return 0;
}

int hh_read_stream(FILE *f, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 1 >= cap) {
            if (n > max)
                break;
            size_t nc = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                return HH_ENOMEM;
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (n > max) {
        free(buf);
        return HH_EFORMAT;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
