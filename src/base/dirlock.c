/* dirlock.c - the data-directory lock (flock on DATA/hoheit.lock). */
#include "base/dirlock.h"
#include "base/fs.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct hh_dirlock {
    int fd;
};

/* The holder's "PID WHAT" line; pid 0 and "another process" when the file
 * is empty (the holder is between its lock and its write) or unreadable. */
static void read_holder(int fd, int64_t *pid, char *what, size_t cap)
{
    char buf[256];
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    *pid = 0;
    snprintf(what, cap, "another process");
    if (r <= 0)
        return;
    buf[r] = '\0';
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || v <= 0)
        return;
    *pid = v;
    while (*end == ' ')
        end++;
    size_t n = strcspn(end, "\n");
    if (n > 0 && n < cap) {
        memcpy(what, end, n);
        what[n] = '\0';
    }
}

int hh_dirlock_acquire(hh_dirlock_t **out, const char *data_dir, const char *what, int64_t *holder_pid,
                       hh_err_t *err)
{
    *out = NULL;
    if (holder_pid)
        *holder_pid = 0;
    int rc = hh_mkdir_p(data_dir, "", err);
    if (rc)
        return rc;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", data_dir, HH_DIRLOCK_FILE) >= (int)sizeof path)
        return hh_err_set(err, HH_EINVAL, -1, "data directory path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return hh_err_set(err, HH_EIO, -1, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            int64_t pid = 0;
            char who[128];
            read_holder(fd, &pid, who, sizeof who);
            close(fd);
            if (holder_pid)
                *holder_pid = pid;
            if (pid > 0)
                return hh_err_set(err, HH_ESTATE, -1, "%s is in use by %s (pid %lld)", data_dir, who,
                                  (long long)pid);
            return hh_err_set(err, HH_ESTATE, -1, "%s is in use by another hoheit process (see %s)", data_dir,
                              path);
        }
        close(fd);
        return hh_err_set(err, HH_EIO, -1, "cannot lock %s: %s", path, strerror(e));
    }
    hh_dirlock_t *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return hh_err_set(err, HH_ENOMEM, -1, "out of memory");
    }
    l->fd = fd;
    char line[256];
    int n = snprintf(line, sizeof line, "%lld %s\n", (long long)getpid(), what && what[0] ? what : "hoheit");
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    /* The holder's line is advisory (for the message); a failed write
     * leaves the lock itself intact. */
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n)
        HH_LOGW("cannot write %s: %s", path, strerror(errno));
    fchmod(fd, 0600);
    *out = l;
    return 0;
}

void hh_dirlock_release(hh_dirlock_t *l)
{
    if (!l)
        return;
    close(l->fd);   /* drops the flock */
    free(l);
}
