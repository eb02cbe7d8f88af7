/* fs.c - small file-system helpers (fs.h). */
#include "base/fs.h"

#include <errno.h>
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
